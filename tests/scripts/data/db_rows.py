#!/usr/bin/python3
"""Prints every column of every point of a sweep database, in point order, then the number of
metrics rows: two databases print the same text iff they hold the same rows."""
import sqlite3
import sys

c = sqlite3.connect(sys.argv[1])
for r in c.execute("SELECT * FROM points ORDER BY sweep, point"):
    print(repr(r))
print(c.execute("SELECT count(*) FROM metrics").fetchone())
