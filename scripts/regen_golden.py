#!/usr/bin/python3
"""Regenerates the golden files of the test suite from the current build.

tests/golden/bad_input/<case>.err: what `nmpsim` prints on standard error for each case of the
bad-input corpus (tests/golden/bad_input/cases.py, written out as cases.json with its input
files; run from the repository root); first, the inputs derived from configs/tech/45nm.json. Review the diff before committing: the tests check these messages
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

# Weight files with one fault each, and the workloads that read them.
def npy_bytes(shape, data):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}, " for d in shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data


def safetensors_bytes(tensors, data, claimed_header=None):
    header = json.dumps(tensors).encode()
    length = len(header) if claimed_header is None else claimed_header
    return length.to_bytes(8, "little") + header + data


(cases_dir / "weights_truncated.npy").write_bytes(npy_bytes((4, 8), bytes(4 * 32 - 6)))
(cases_dir / "weights_wrong_shape.npy").write_bytes(npy_bytes((8, 4), bytes(4 * 32)))
(cases_dir / "weights_bad_header.safetensors").write_bytes(
    safetensors_bytes({"w": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}},
                      bytes(128), claimed_header=1 << 20))
(cases_dir / "weights_truncated.safetensors").write_bytes(
    safetensors_bytes({"w": {"dtype": "F16", "shape": [4, 8], "data_offsets": [0, 64]}},
                      bytes(40)))
for name, source in [("weights_truncated_npy", {"file": "weights_truncated.npy"}),
                     ("weights_wrong_shape", {"file": "weights_wrong_shape.npy"}),
                     ("weights_bad_safetensors", {"file": "weights_bad_header.safetensors", "tensor": "w"}),
                     ("weights_truncated_safetensors", {"file": "weights_truncated.safetensors", "tensor": "w"}),
                     ("weights_missing_tensor", {"file": "weights_truncated.safetensors", "tensor": "q"})]:
    workload = {"name": name, "tokens": 1,
                "layers": [{"type": "linear", "format": "fp16", "name": "l", "in_features": 8,
                            "out_features": 4, "weights": source}]}
    (cases_dir / f"workload_{name}.json").write_text(json.dumps(workload, indent=2) + "\n")

# The corpus of bad inputs: its input files, its case list, then each case's expected message.
sys.path.insert(0, str(cases_dir))
import cases  # noqa: E402  (tests/golden/bad_input/cases.py)

import os  # noqa: E402
os.chdir(root)
cases.write_inputs(cases_dir)
(cases_dir / "cases.json").write_text(json.dumps(cases.CASES, indent=1) + "\n")
failed = []
for case in cases.CASES:
    result = subprocess.run([binary] + case["args"], cwd=root, capture_output=True,
                            input=case.get("stdin", ""), text=True, errors="replace")
    if result.returncode != 2:
        failed.append(f"{case['name']}: exit code {result.returncode}, expected 2\n{result.stderr}")
        continue
    (cases_dir / f"{case['name']}.err").write_text(result.stderr)
    print(f"{case['name']}: {result.stderr.strip().splitlines()[0] if result.stderr.strip() else '(nothing)'}")
print(f"{len(cases.CASES)} cases")
if failed:
    sys.exit("\n".join(failed))
