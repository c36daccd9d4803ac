# a program with a typo
    li r1, 4
loop:
    dbnz r1, lop
    halt
