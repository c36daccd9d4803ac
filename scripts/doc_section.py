"""Replaces a generated section of a document: the text from the line starting
"<!-- BEGIN <name>" to "<!-- END <name> -->", both markers included (the new text carries them).
Shared by the scripts that write their tables into docs/ (format_study.py, bitnet_vs_llama.py).
"""
import pathlib


def replace_section(doc: pathlib.Path, name: str, text: str) -> None:
    s = doc.read_text()
    end_marker = f"<!-- END {name} -->"
    start = s.index(f"<!-- BEGIN {name}")
    end = s.index(end_marker) + len(end_marker)
    doc.write_text(s[:start] + text + s[end:])
