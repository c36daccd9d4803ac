        bnez r1, nowhere
        halt
