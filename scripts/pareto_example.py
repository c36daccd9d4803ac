#!/usr/bin/python3
"""A Pareto study from Python: sweep array shapes and weight-SRAM sizes for the shipped ternary
GEMV, keep the designs within an area budget, and plot latency against energy with the front.

Usage: PYTHONPATH=build/python scripts/pareto_example.py [--out out/pareto_example] [--small]
(--small: a 4-point grid, for the test). Uses the nmpsim module (docs/python.md) and Debian's
python3-matplotlib.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nmpsim  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--out", default="out/pareto_example")
ap.add_argument("--small", action="store_true")
args = ap.parse_args()

sizes = [16, 64] if args.small else [16, 32, 64, 128]
spec = {"name": "pareto_example", "hw": "configs/hw/default.json",
        "workload": "configs/workloads/default.json", "timing_only": True,
        "grid": {"hw.mac_array.rows": sizes, "hw.mac_array.cols": sizes}}
db = args.out + ".sqlite"
rows = nmpsim.sweep(spec, db=db, jobs=2, resume=True)
budget = sorted(r["area_um2"] for r in rows)[len(rows) // 2]  # the median design's area
front = nmpsim.pareto(db, "pareto_example", constraints={"area_um2.total": {"max": budget}})

on_front = {p["point"] for p in front["points"]}
for label, pick, style in [("over the area budget", lambda r: r["area_um2"] > budget, "x"),
                           ("within it", lambda r: r["area_um2"] <= budget, "o"),
                           ("Pareto front", lambda r: r["point"] in on_front, "*")]:
    chosen = [r for r in rows if pick(r)]
    plt.scatter([r["latency_s"] * 1e6 for r in chosen], [r["energy_pj"] * 1e-6 for r in chosen],
                marker=style, label=label)
plt.xlabel("latency (us)")
plt.ylabel("energy (uJ)")
plt.legend()
plt.title(f"{len(on_front)} of {front['feasible']} designs within {budget / 1e6:.2f} mm^2")
plt.savefig(args.out + ".png")
print(f"{len(rows)} designs, {front['feasible']} within the budget, {len(on_front)} Pareto "
      f"points; wrote {args.out}.png")
