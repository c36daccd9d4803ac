x:      li r1, 0
x:      halt
