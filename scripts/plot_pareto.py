#!/usr/bin/python3
"""Pareto plots of a sweep: every pair of latency, energy, area (and RMSE when verified), with
the Pareto-optimal points (none better in every objective) highlighted.

Usage: scripts/plot_pareto.py SWEEP.sqlite [--sweep NAME] [--constraint 'FIGURE<=V' ...]
                              [-o out/pareto]

Reads the `points` and `metrics` tables nmpsim sweep writes; writes OUT.png and OUT.svg. The
front is chosen, as nmpsim's, among the points that meet the sweep spec's "constraints" and
every --constraint (FIGURE is a report path as in the metrics table, e.g. area_um2.total or
derived.tokens_per_s; <= or >=); the others are drawn as crosses. Uses Debian's
python3-matplotlib.
"""
import argparse
import itertools
import json
import math
import re
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


def parse_constraint(text):
    """'area_um2.total<=2e6' -> ('area_um2.total', {'max': 2e6})."""
    m = re.fullmatch(r"\s*([^<>=\s]+)\s*(<=|>=)\s*(\S+)\s*", text)
    try:
        value = float(m.group(3)) if m else None
    except ValueError:
        value = None
    if value is None:
        sys.exit(f"--constraint {text!r}: expected FIGURE<=VALUE or FIGURE>=VALUE")
    return m.group(1), {"max" if m.group(2) == "<=" else "min": value}


def feasible_points(con, name, points, constraints):
    """The point numbers meeting every constraint (a point lacking the figure does not)."""
    ok = {p["point"] for p in points}
    for figure, bounds in constraints.items():
        rows = con.execute("SELECT point, value FROM metrics WHERE sweep = ? AND name = ?",
                           (name, figure)).fetchall()
        if not rows:
            print(f"warning: no finished point reports {figure}", file=sys.stderr)
        ok &= {pt for pt, v in rows
               if v >= bounds.get("min", -math.inf) and v <= bounds.get("max", math.inf)}
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--sweep")
    ap.add_argument("--constraint", action="append", default=[],
                    help="FIGURE<=VALUE or FIGURE>=VALUE (repeatable)")
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
    spec = json.loads(con.execute("SELECT spec FROM sweeps WHERE name = ?", (name,)).fetchone()[0])
    constraints = {k: dict(v) for k, v in spec.get("constraints", {}).items()}
    for text in args.constraint:
        figure, bound = parse_constraint(text)
        constraints.setdefault(figure, {}).update(bound)
    keys = [k for k in cols if all(p[k] is not None and not math.isnan(p[k]) for p in points)]
    meets = feasible_points(con, name, points, constraints)
    candidates = [i for i, p in enumerate(points) if p["point"] in meets]
    best = {candidates[j] for j in front([points[i] for i in candidates], keys)}
    labels = dict(OBJECTIVES)
    pairs = list(itertools.combinations(keys, 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 4), squeeze=False)
    for ax, (x, y) in zip(axes[0], pairs):
        others = [p for i, p in enumerate(points) if i not in best and p["point"] in meets]
        excluded = [p for p in points if p["point"] not in meets]
        ax.scatter([p[x] for p in others], [p[y] for p in others], s=12, color="0.6",
                   label="dominated")
        if excluded:
            ax.scatter([p[x] for p in excluded], [p[y] for p in excluded], s=14, marker="x",
                       color="0.8", label="outside the constraints")
        ax.scatter([points[i][x] for i in best], [points[i][y] for i in best], s=24,
                   color="tab:red", label="Pareto front")
        ax.set_xlabel(labels[x])
        ax.set_ylabel(labels[y])
    axes[0][0].legend(fontsize="small")
    bounds = "; ".join(f"{f} {'>=' if 'min' in b else ''}{b.get('min', '')}"
                       f"{' and ' if len(b) == 2 else ''}{'<=' if 'max' in b else ''}"
                       f"{b.get('max', '')}" for f, b in constraints.items())
    fig.suptitle(f"sweep {name}: {len(best)} of {len(meets)} points on the Pareto front "
                 f"({', '.join(labels[k] for k in keys)})"
                 + (f", of {len(points)}, subject to {bounds}" if constraints else ""))
    fig.tight_layout()
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "svg"):
        fig.savefig(f"{args.out}.{ext}")
    print(f"wrote {args.out}.png and {args.out}.svg: {len(best)} Pareto points of the "
          f"{len(meets)} meeting the constraints")


if __name__ == "__main__":
    main()
