#!/usr/bin/python3
"""Rewrites the generated sections of docs/ from the code's own tables.

Each section sits between "<!-- BEGIN GENERATED: <command> -->" and "<!-- END GENERATED -->"
and holds what `nmpsim <command>` prints. tests/sim/t_sim_docs.cpp fails when a section is
stale; run this (after building) to refresh them.
"""
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / "build" / "nmpsim")
pattern = re.compile(r"(<!-- BEGIN GENERATED: (.*?) -->\n)(.*?)(<!-- END GENERATED -->)", re.S)


def render(match):
    args = match.group(2).split()
    text = subprocess.run([binary] + args, cwd=root, check=True, capture_output=True,
                          text=True).stdout
    return match.group(1) + text + match.group(4)


for doc in sorted((root / "docs").glob("*.md")):
    old = doc.read_text()
    new = pattern.sub(render, old)
    if new != old:
        doc.write_text(new)
        print(f"updated {doc.relative_to(root)}")
