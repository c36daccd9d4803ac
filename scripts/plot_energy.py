#!/usr/bin/python3
"""Stacked bars of energy from one or more nmpsim reports: by unit and by event kind.

Usage: scripts/plot_energy.py REPORT.json [REPORT.json ...] [-o out/energy]

Writes OUT_by_unit.png/.svg and OUT_by_event.png/.svg (default out/energy). Every bar is a
report's own figures (energy_pj.by_unit, energy_pj.by_event); nothing is computed but sums.
Uses Debian's python3-matplotlib (installed by scripts/setup.sh).
"""
import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def event_kind(key):
    """pe.mac.fp16 -> pe.mac, sram.wsram.read_word -> sram.wsram, dram.read_byte -> dram."""
    parts = key.split(".")
    return ".".join(parts[:2]) if parts[0] in ("pe", "sram", "vec") else parts[0]


def load(path):
    r = json.loads(pathlib.Path(path).read_text())
    if "schema_version" not in r or "energy_pj" not in r:
        sys.exit(f"{path}: not an nmpsim report")
    return r


def stacked(reports, labels, series_of, title, out):
    keys = sorted({k for r in reports for k in series_of(r)})
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(reports) + 3), 5))
    bottom = [0.0] * len(reports)
    colors = plt.get_cmap("tab20").colors
    for i, k in enumerate(keys):
        values = [series_of(r).get(k, 0.0) * 1e-6 for r in reports]  # pJ -> uJ
        ax.bar(labels, values, bottom=bottom, label=k, color=colors[i % len(colors)])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("energy (uJ)")
    ax.set_title(title)
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(f"{out}.{ext}")
    plt.close(fig)
    print(f"wrote {out}.png and {out}.svg")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--out", default="out/energy")
    args = ap.parse_args()
    reports = [load(p) for p in args.reports]
    labels = [f"{r['config']['workload']['name']}\n{r['config']['hw']['name']}" for r in reports]
    if len(set(labels)) < len(labels):
        labels = [pathlib.Path(p).stem for p in args.reports]
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    def by_event(r):
        sums = {}
        for key, e in r["energy_pj"]["by_event"].items():
            sums[event_kind(key)] = sums.get(event_kind(key), 0.0) + e["total_pj"]
        if r["energy_pj"].get("leakage"):
            sums["leakage"] = r["energy_pj"]["leakage"]
        return sums

    stacked(reports, labels, lambda r: r["energy_pj"]["by_unit"], "Energy by unit",
            f"{args.out}_by_unit")
    stacked(reports, labels, by_event, "Energy by event kind", f"{args.out}_by_event")


if __name__ == "__main__":
    main()
