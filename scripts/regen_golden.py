#!/usr/bin/python3
"""Regenerates the golden files of the test suite from the current build.

tests/golden/bad_input/<case>.err: what `nmpsim` prints on standard error for each case of
tests/golden/bad_input/cases.json (run from the repository root); first, the inputs derived
from configs/tech/45nm.json. Review the diff before committing: the tests check these messages
exactly, and also that each names its input.
"""
import json
import pathlib
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / "build" / "nmpsim")
cases_dir = root / "tests" / "golden" / "bad_input"

# Inputs derived from the shipped technology library, so that each holds exactly one fault.
tech = json.loads((root / "configs" / "tech" / "45nm.json").read_text())
missing_source = json.loads(json.dumps(tech))
del missing_source["ops"]["int8_add"]["source"]
(cases_dir / "tech_missing_source.json").write_text(json.dumps(missing_source, indent=2) + "\n")
unused = json.loads(json.dumps(tech))
unused["ops"]["int4_add"] = {"energy_pj": 0.01, "source": "made up for a test"}
(cases_dir / "tech_unused_op.json").write_text(json.dumps(unused, indent=2) + "\n")
for case in json.loads((cases_dir / "cases.json").read_text()):
    result = subprocess.run([binary] + case["args"], cwd=root, capture_output=True, text=True)
    if result.returncode != 2:
        sys.exit(f"{case['name']}: exit code {result.returncode}, expected 2\n{result.stderr}")
    (cases_dir / f"{case['name']}.err").write_text(result.stderr)
    print(f"{case['name']}: {result.stderr.strip().splitlines()[0]}")
