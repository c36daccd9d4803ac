        li r1, 0
