        .org 100
        halt
