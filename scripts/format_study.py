#!/usr/bin/python3
"""The seeds' format study, in kind: one LSTM layer (800 hidden units, 50 timesteps) run by
nmpsim in every number format its MAC array supports, with the output error against the FP32
model and the energy of each run.

Usage: scripts/format_study.py [--quick] [--write-docs]

Two weight distributions: uniform in [-2.5, 2.5] (the study's range taken literally) and a
trained-like normal N(0, 0.05^2) (which also lies within [-2.5, 2.5]). The gate products run in
the format under test; the cell (sigmoid, tanh, c and h) runs in the vector unit's format, fp32
in the first table and a 16-bit format in the second (fixed<4,12> for the fixed-point rows:
the cell state needs more than fixed<2,F>'s range; FP32 keeps an fp32 cell in both). --write-docs replaces the section between
the FORMAT STUDY markers of docs/validation.md; --quick runs 5 timesteps of 64 units.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

from doc_section import replace_section

root = pathlib.Path(__file__).resolve().parent.parent
nmpsim = root / "build" / "nmpsim"
hw = root / "configs" / "hw" / "default.json"

# (label, workload format, PE kind, 16-bit cell format)
FORMATS = [
    ("FP32", "fp32", "fp32", "fp32"),
    ("fixed<2,6>", "fixed2_6", "fixed2_6", "fixed<4,12>"),
    ("fixed<2,14>", "fixed2_14", "fixed2_14", "fixed<4,12>"),
    ("FP16", "fp16", "fp16", "fp16"),
    ("BF16", "bf16", "bf16", "bf16"),
    ("FP8 E4M3", "fp8_e4m3", "fp8_e4m3", "fp16"),
    ("posit<16,1>", "posit16_1", "posit16_1", "posit<16,1>"),
    ("posit<8,0>", "posit8_0", "posit8_0", "posit<16,1>"),
    ("int8 (per-tensor weights, per-step activations)", "int8", "int8_int8", "fp16"),
    ("ternary weights (BitNet b1.58), int8 activations", "ternary", "ternary_int8", "fp16"),
]
def workload(hidden, steps, weights):
    return {
        "name": f"lstm-{hidden}x{steps}",
        "tokens": steps,
        "input": {"distribution": "uniform", "low": -1, "high": 1, "seed": 11},
        "layers": [{"type": "lstm", "name": "lstm", "in_features": hidden, "hidden": hidden,
                    "format": "fp16", "weights": dict(weights, seed=12),
                    "biases": dict(weights, seed=13)}],
    }


def run(path, fmt, pe, cell):
    cmd = [str(nmpsim), "run", "--hw", str(hw), "--workload", str(path),
           "--set", f"workload.layers.0.format={fmt}", "--set", f"hw.mac_array.pe={pe}",
           "--set", f"hw.vector_unit.format={cell}", "--quiet", "--out", str(path) + ".out"]
    subprocess.run(cmd, check=True)
    r = json.loads(pathlib.Path(str(path) + ".out").read_text())
    err = r["error"]["lstm.output"]
    by_unit = r["energy_pj"]["by_unit"]
    return {
        "rmse": err["rmse"], "max_abs": err["max_abs"],
        "exact": r["invariants"]["outputs_equal_reference"],
        "energy_uj": r["energy_pj"]["total"] * 1e-6,
        "arith_uj": (by_unit.get("mac_array", 0) + by_unit.get("vector_unit", 0)) * 1e-6,
        "cycles_per_step": r["layers"][0]["recurrent"]["cycles_per_timestep"],
    }


def table(hidden, steps, weights, label, cell16):
    lines = [f"**{label}**, cell in {'a 16-bit format' if cell16 else 'fp32'}:", "",
             "| format | RMSE of h | max abs error | energy (uJ) | of which arithmetic (uJ) | cycles per timestep |",
             "|---|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "w.json"
        path.write_text(json.dumps(workload(hidden, steps, weights)))
        for name, fmt, pe, cell in FORMATS:
            c = cell if cell16 else "fp32"
            r = run(path, fmt, pe, c)
            assert r["exact"] is True, f"{name}: simulated outputs differ from the exact model"
            num = lambda v: "NaN (an overflow reached h)" if v is None else f"{v:.4g}"
            lines.append(f"| {name}, cell {c} | {num(r['rmse'])} | {num(r['max_abs'])} | "
                         f"{r['energy_uj']:.4g} | {r['arith_uj']:.4g} | {r['cycles_per_step']:.0f} |")
            print(lines[-1], file=sys.stderr)
    return lines


def main():
    quick = "--quick" in sys.argv
    hidden, steps = (64, 5) if quick else (800, 50)
    out = [f"<!-- BEGIN FORMAT STUDY: scripts/format_study.py (hidden {hidden}, {steps} timesteps, "
           f"configs/hw/default.json with the MAC array's PE kind set per format) -->", ""]
    for weights, label in [
            ({"distribution": "uniform", "low": -2.5, "high": 2.5}, "Weights uniform in [-2.5, 2.5]"),
            ({"distribution": "normal", "mean": 0, "std": 0.05}, "Weights N(0, 0.05^2)")]:
        for cell16 in (False, True):
            out += table(hidden, steps, weights, label, cell16) + [""]
    out.append("<!-- END FORMAT STUDY -->")
    text = "\n".join(out)
    print(text)
    if "--write-docs" in sys.argv:
        replace_section(root / "docs" / "validation.md", "FORMAT STUDY", text)


if __name__ == "__main__":
    main()
