        li r1
        halt
