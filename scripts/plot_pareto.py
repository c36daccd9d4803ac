#!/usr/bin/python3
"""Pareto plots of a sweep: every pair of latency, energy, area (and RMSE when verified), with
the Pareto-optimal points (none better in every objective) highlighted.

Usage: scripts/plot_pareto.py SWEEP.sqlite [--sweep NAME] [-o out/pareto]

Reads the `points` table nmpsim sweep writes; writes OUT.png and OUT.svg. Uses Debian's
python3-matplotlib.
"""
import argparse
import itertools
import math
import pathlib
import sqlite3
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OBJECTIVES = [("latency_s", "latency (s)"), ("energy_pj", "energy (pJ)"),
              ("area_um2", "area (um^2)"), ("error_rmse", "RMSE vs FP32")]


def front(points, keys):
    """Indices of the points no other point matches or beats in every objective."""
    out = []
    for i, a in enumerate(points):
        dominated = any(all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)
                        for b in points)
        if not dominated:
            out.append(i)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--sweep")
    ap.add_argument("-o", "--out", default="out/pareto")
    args = ap.parse_args()
    if not pathlib.Path(args.db).exists():
        sys.exit(f"{args.db}: no such database")
    con = sqlite3.connect(args.db)
    sweeps = [r[0] for r in con.execute("SELECT name FROM sweeps")]
    name = args.sweep or (sweeps[0] if len(sweeps) == 1 else None)
    if name not in sweeps:
        sys.exit(f"{args.db}: name a sweep with --sweep (it holds {', '.join(sweeps) or 'none'})")
    cols = [k for k, _ in OBJECTIVES]
    rows = con.execute(f"SELECT point, {', '.join(cols)} FROM points "
                       "WHERE sweep = ? AND status = 'ok' ORDER BY point", (name,)).fetchall()
    points = [dict(zip(["point"] + cols, r)) for r in rows]
    if not points:
        sys.exit(f"{args.db}: sweep {name} has no finished points")
    keys = [k for k in cols if all(p[k] is not None and not math.isnan(p[k]) for p in points)]
    best = set(front(points, keys))
    labels = dict(OBJECTIVES)
    pairs = list(itertools.combinations(keys, 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 4), squeeze=False)
    for ax, (x, y) in zip(axes[0], pairs):
        others = [p for i, p in enumerate(points) if i not in best]
        ax.scatter([p[x] for p in others], [p[y] for p in others], s=12, color="0.6",
                   label="dominated")
        ax.scatter([points[i][x] for i in best], [points[i][y] for i in best], s=24,
                   color="tab:red", label="Pareto front")
        ax.set_xlabel(labels[x])
        ax.set_ylabel(labels[y])
    axes[0][0].legend(fontsize="small")
    fig.suptitle(f"sweep {name}: {len(best)} of {len(points)} points on the Pareto front "
                 f"({', '.join(labels[k] for k in keys)})")
    fig.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(f"{args.out}.{ext}")
    print(f"wrote {args.out}.png and {args.out}.svg: {len(best)} Pareto points")


if __name__ == "__main__":
    main()
