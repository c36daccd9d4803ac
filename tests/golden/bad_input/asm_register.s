        li r16, 0
        halt
