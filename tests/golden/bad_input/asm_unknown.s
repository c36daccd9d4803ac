        li r1, 0
        frob r1, r2
        halt
