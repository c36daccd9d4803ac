#!/usr/bin/python3
"""Each model of the library against its physical bounds, with the mapper's loop orders and with
rows_outer forced on every linear layer (the order every lowering used before the mapper).

Usage: scripts/roofline.py [--write-docs] [--models GLOB]

On configs/hw/llm_64x64.json, each workload of workloads/models/ matching GLOB (default: the
layer prefills and decodes, BERT, and the whole-model decodes) runs timing-only on the PE kind
it needs, with twice the config's DRAM ranks where it does not fit (LLaMA 3.9B's whole decode).
The prefills run once more with two ranks for the analytical table only. Bounds:
  DRAM bound  the bytes that must cross DRAM once (every linear layer's weights as stored, the
              attention layers' KV caches as the report counts them, the model's input and its
              last layer's output) over the bandwidth this DRAM sustains on a long sequential
              read, as `nmpsim dram` measures it on such a trace;
  MAC bound   the MACs over the array's PEs (one MAC per PE per cycle).
A model's ratio is its cycles over the larger bound. A second DRAM bound also counts what this
machine's SRAMs cannot hold (the weights_outer order's premise, docs/architecture.md#mapper): a
linear layer of m rows sums each output in the accumulator SRAM, so a super tile of s rows has
accumulators for at most acc_sram / (s x an accumulator's bytes) outputs at once; its input is read once per
such block of outputs and its weights once per super tile. Per linear layer, the reads beyond
one of each, at the s that makes them fewest (inputs at the smaller of the DRAM format's and the
array's element bytes), are added to the bytes that must cross DRAM. Each run's analytical prediction
(docs/architecture.md#analytical-model) is compared with its simulated cycles, in all and per
layer. --write-docs replaces the sections between the ROOFLINE markers of docs/performance.md
and the ANALYTICAL markers of docs/validation.md.
"""
import fnmatch
import json
import pathlib
import re
import subprocess
import sys
import tempfile

from doc_section import replace_section

root = pathlib.Path(__file__).resolve().parent.parent
nmpsim = root / "build" / "nmpsim"
hw_path = root / "configs" / "hw" / "llm_64x64.json"
DEFAULT = ["*_layer_prefill128", "bert_base_layer_seq128", "*_layer_decode", "*_decode",
           "speech_gru_4x1024", "speech_lstm_5x800"]


def pe_of(workload):
    kind = lambda f: "int8_int8" if f == "int8" else f
    layers = workload["layers"]
    for l in layers:
        if l["type"] == "attention":
            return kind(l["format"])
    for l in layers:
        if l["type"] == "bitlinear":
            return "ternary_int8"
        if "format" in l:
            return kind(l["format"])
    return "ternary_int8"


def run(path, sets):
    """The report of a timing-only run, or None where the workload does not fit the DRAM."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [str(nmpsim), "run", "--hw", str(hw_path), "--workload", str(path),
               "--timing-only", "--quiet", "--out", out.name]
        for s in sets:
            cmd += ["--set", s]
        done = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        if done.returncode == 2 and "/dram: the DRAM" in done.stderr:
            return None
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stderr}")
        return json.load(open(out.name))


def sustained_bytes_per_cycle(hw, ranks):
    """Bytes per accelerator cycle of a long sequential read of the configured DRAM with `ranks`
    ranks per channel."""
    with tempfile.TemporaryDirectory() as d:
        trace = pathlib.Path(d) / "seq.trace"
        burst = 32  # LPDDR5 x16 channels of llm_64x64: 16 bits x BL16
        with open(trace, "w") as f:
            for i in range(1 << 17):  # 4 MiB
                f.write(f"0x{i * burst:x} READ 0\n")
        out = pathlib.Path(d) / "r.json"
        subprocess.run([str(nmpsim), "dram", "--hw", str(hw_path), str(trace), "--set",
                        f"hw.dram.ranks={ranks}", "--out", str(out)], check=True)
        r = json.load(open(out))
        assert r["bytes"] == (1 << 17) * burst, "the trace's requests are not 32-byte bursts"
    return r["bandwidth_gbps"] * 1e9 / (hw["clock_mhz"] * 1e6), r["bandwidth_gbps"]


def bounds(report, workload, bw, pes, wsram_bytes):
    """Bytes that must cross DRAM: every weight once, the model's input and output once, and
    for a recurrent layer, at every timestep of a direction after its first, the bytes of that
    direction's recurrent weights U beyond the weight SRAM's capacity (which no schedule can
    keep on chip); the DRAM bound is those over the sustained rate, the MAC bound the MACs over
    the PEs."""
    layers = report["layers"]
    must = sum(l["weight_bytes"] for l in layers)
    for spec, l in zip(workload["layers"], layers):
        rec = l["recurrent"]
        if not rec:
            continue
        directions = 2 if spec.get("bidirectional") else 1
        must += (rec["timesteps"] - directions) * max(0, rec["u_bytes"] - wsram_bytes)
    first = layers[0]
    vb = first["output_in_dram"]["element_bytes"]
    tokens = workload.get("tokens", 1)
    first_layer = workload["layers"][0]
    if first_layer["type"] == "embedding":
        must += tokens * 4
    else:
        must += tokens * first_layer.get("in_features", 0) * vb
    last = layers[-1]
    must += last["shape"]["m"] * last["shape"]["n"] * last["output_in_dram"]["element_bytes"]
    # The model's MACs: not those of transposing appended cache columns on the array.
    macs = report["counters"]["mac_array"]["macs"] - sum(l["transpose_macs"] for l in report["layers"])
    return must, must / bw, macs / pes


def is_prefill(name):
    """A workload of many rows (issue 15's prefill target): the layer prefills and BERT's layer."""
    return "prefill" in name or "bert" in name


def time_by_kind(workload, report, bw, pes):
    """Per kind of layer (linear, attention, the vector layers): simulated cycles, the layers'
    own DRAM traffic over the sustained rate, and their MACs over the PEs."""
    kinds = {"linear": [0, 0, 0], "attention": [0, 0, 0], "vector": [0, 0, 0]}
    for spec, l in zip(workload["layers"], report["layers"]):
        kind = ("linear" if spec["type"] in ("linear", "bitlinear") else
                "attention" if spec["type"] == "attention" else "vector")
        k = kinds[kind]
        k[0] += l["span_cycles"]
        k[1] += l["dram_bytes"] / bw
        k[2] += (l["macs"] - l["transpose_macs"]) / pes
    return kinds


def pe_bytes():
    """Per PE kind: bytes of an activation and of an accumulator, from the table in
    hw_models/pe.hpp (kPeKinds: kind, name, format, element, w, a, acc, ...)."""
    table = {}
    for line in open(root / "hw_models" / "pe.hpp"):
        # Quoted names may hold commas (posit<8,0>): each quoted string is one field.
        fields = re.findall(r'"[^"]*"|[^,{}"]+', line.strip().strip("{},"))
        fields = [f.strip() for f in fields if f.strip()]
        if len(fields) > 6 and fields[0].startswith("PeKind::"):
            table[fields[1].strip('"')] = (int(fields[5]), int(fields[6]))
    return table


def sram_forced_reads(report, hw, pe):
    """The DRAM reads a linear layer cannot avoid beyond one of its weights and one of its
    input, summed over the model: for super tiles of s rows (1 <= s <= m) whose accumulators for
    a block of outputs fit the accumulator SRAM, (super tiles - 1) reads of the weights and
    (blocks - 1) of the input, at the s that makes them fewest."""
    act_element, acc_element = pe_bytes()[pe]
    acc_bytes = hw["acc_sram"]["capacity_kib"] * 1024
    # A tensor's element in DRAM (a fused layer's host stores none of its own).
    stored = next(l["output_in_dram"]["element_bytes"] for l in report["layers"]
                  if l["output_in_dram"])
    element = min(act_element, stored)
    extra = 0
    for l in report["layers"]:
        if not (l["mapping"] and "loop_order" in l["mapping"]):
            continue
        m, n, k = l["shape"]["m"], l["shape"]["n"], l["shape"]["k"]
        best = None
        for s in range(1, m + 1):
            outputs = acc_bytes // (s * acc_element)
            if outputs == 0:
                break
            supers, blocks = -(-m // s), -(-n // min(outputs, n))
            reads = (supers - 1) * l["weight_bytes"] + (blocks - 1) * m * k * element
            best = reads if best is None else min(best, reads)
        extra += best or 0
    return extra


def main():
    write = "--write-docs" in sys.argv
    globs = DEFAULT
    if "--models" in sys.argv:
        globs = [sys.argv[sys.argv.index("--models") + 1]]
    hw = json.load(open(hw_path))
    pes = hw["mac_array"]["rows"] * hw["mac_array"]["cols"]
    shipped_ranks = hw["dram"].get("ranks", 1)
    rates = {}  # by ranks per channel: (bytes per cycle, GB/s)

    def rate(ranks):
        if ranks not in rates:
            rates[ranks] = sustained_bytes_per_cycle(hw, ranks)
        return rates[ranks]

    wsram_bytes = hw["weight_sram"]["capacity_kib"] * 1024
    rows = []
    agreement = []
    breakdown = []  # the prefills' cycles by layer kind
    files = sorted(p for p in (root / "workloads" / "models").glob("*.json")
                   if any(fnmatch.fnmatch(p.stem, g) for g in globs))

    def agreement_row(name, report):
        spans = [(l["analytical"]["span_cycles"] / l["span_cycles"], l["span_cycles"])
                 for l in report["layers"] if l["span_cycles"] > 0]
        ratios = [r for r, _ in spans]
        within2 = sum(cycles for r, cycles in spans if abs(r - 1) <= 0.02)
        return (name, len(ratios), report["analytical"]["cycles"] / report["cycles"]["total"],
                sum(abs(r - 1) <= 0.02 for r in ratios), sum(abs(r - 1) <= 0.10 for r in ratios),
                within2 / sum(cycles for _, cycles in spans), min(ratios), max(ratios))

    for path in files:
        w = json.load(open(path))
        # The shipped config, with twice its ranks where the model does not fit its DRAM.
        ranks, sets = shipped_ranks, [f"hw.mac_array.pe={pe_of(w)}"]
        after = run(path, sets)
        if after is None:
            ranks *= 2
            sets.append(f"hw.dram.ranks={ranks}")
            after = run(path, sets)
        bw = rate(ranks)[0]
        linear = [i for i, l in enumerate(after["layers"]) if l["mapping"] and "loop_order" in l["mapping"]]
        moved = [i for i in linear if after["layers"][i]["mapping"]["loop_order"] != "rows_outer"]
        before = after
        if moved:
            before = run(path, sets + [f"workload.layers.{i}.loop_order=rows_outer" for i in moved])
        must, dram_bound, mac_bound = bounds(after, w, bw, pes, wsram_bytes)
        bound = max(dram_bound, mac_bound)
        sram_bound = (must + sram_forced_reads(after, hw, pe_of(w))) / bw
        rows.append((path.stem, ranks, must, dram_bound, mac_bound, before["cycles"]["total"],
                     after["cycles"]["total"], len(moved), len(linear), after["analytical"]["cycles"],
                     sram_bound))
        agreement.append(agreement_row(path.stem, after))
        if is_prefill(path.stem):
            breakdown.append((path.stem, after["cycles"]["total"] / bound,
                              time_by_kind(w, after, bw, pes)))
        print(f"{path.stem}: {before['cycles']['total'] / bound:.2f}x -> {after['cycles']['total'] / bound:.2f}x",
              file=sys.stderr)
    # The model's known miss: with two ranks refreshing one after another, strided rows spread
    # over both lose more to refresh than a sequential read, by how a layer's commands fall
    # against each rank's refresh (docs/validation.md). The prefills show it.
    for path in files:
        if not is_prefill(path.stem):
            continue
        report = run(path, [f"hw.mac_array.pe={pe_of(json.load(open(path)))}",
                            f"hw.dram.ranks={2 * shipped_ranks}"])
        agreement.append(agreement_row(f"{path.stem}, {2 * shipped_ranks} ranks", report))
    one, two = rate(shipped_ranks), rate(2 * shipped_ranks)
    lines = [
        f"On `configs/hw/llm_64x64.json` (64 x 64 PEs at {hw['clock_mhz']} MHz; "
        f"{hw['dram']['standard']}, {hw['dram']['channels']} channels of {shipped_ranks} rank "
        f"sustaining {one[1]:.1f} GB/s = {one[0]:.1f} bytes per cycle on a long sequential read; "
        f"{2 * shipped_ranks} ranks, {two[1]:.1f} GB/s = {two[0]:.1f} bytes per cycle, where a "
        "model needs more DRAM: *ranks*), timing-only, "
        "each model on the PE kind it needs. *Before*: rows_outer forced on every linear layer "
        "(the order of every lowering before the mapper); *after*: the mapper's choice "
        "(layers moved: those it maps weights_outer); *analytical*: the analytical model's "
        "cycles for *after* (docs/architecture.md#analytical-model) over the simulated ones. "
        "For the speech encoders (recurrent layers), *must cross DRAM* also counts, at every "
        "timestep of a direction after its first, the bytes of its recurrent weights U beyond "
        "the weight SRAM's capacity, which no schedule can keep on chip. *With the SRAMs*: a "
        "DRAM bound that also counts the reads of each linear layer's input (and weights) that "
        "its accumulator SRAM forces (this script's docstring), and *after* over the larger of "
        "it and the MAC bound. "
        "Generated by `scripts/roofline.py --write-docs`.",
        "",
        "| model | ranks | must cross DRAM | DRAM bound | MAC bound | before | after | "
        "layers moved | analytical | with the SRAMs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ranks, must, db, mb, before, after, moved, linear, predicted, sram_db in rows:
        bound = max(db, mb)
        lines.append(f"| {name} | {ranks} | {must / 1e6:.1f} MB | {db / 1e6:.3f} M | {mb / 1e6:.3f} M | "
                     f"{before / 1e6:.3f} M ({before / bound:.2f}x) | "
                     f"{after / 1e6:.3f} M ({after / bound:.2f}x) | {moved} of {linear} | "
                     f"{predicted / after:.3f} | {sram_db / 1e6:.3f} M "
                     f"({after / max(sram_db, mb):.2f}x) |")
    lines += [
        "",
        "Where the prefills' cycles go, by kind of layer: simulated cycles (M), and against them "
        "the layers' own DRAM traffic (what their DMA commands move, activations between layers "
        "and re-reads included) over the sustained rate, and their MACs over the PEs. A fused "
        "layer's cycles count in its host's.",
        "",
        "| model | after | linear | its DRAM, MACs | attention | its DRAM, MACs | vector layers | "
        "their DRAM |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ratio, kinds in breakdown:
        cells = []
        for kind in ("linear", "attention", "vector"):
            cycles, dram, macs = kinds[kind]
            cells.append(f"{cycles / 1e6:.3f}")
            cells.append(f"{dram / 1e6:.3f}, {macs / 1e6:.3f}" if kind != "vector" else f"{dram / 1e6:.3f}")
        lines.append(f"| {name} | {ratio:.2f}x | " + " | ".join(cells) + " |")
    text = ("<!-- BEGIN ROOFLINE: scripts/roofline.py --write-docs -->\n" + "\n".join(lines) +
            "\n<!-- END ROOFLINE -->")
    lines = [
        "Each model's timing-only run on the same machine: the analytical model's cycles over the "
        "simulated ones, in all and per layer (a layer: from its start to the next layer's; "
        "*their cycles within 2%*: the share of the simulated cycles spent in layers within 2%); "
        f"below, the prefills again with {2 * shipped_ranks} ranks, where the model misses by "
        "more (docs/validation.md). Generated by `scripts/roofline.py --write-docs`.",
        "",
        "| model | layers | in all | layers within 2% | within 10% | their cycles within 2% | "
        "per layer |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, count, total, within2, within10, share, lo, hi in agreement:
        lines.append(f"| {name} | {count} | {total:.3f} | {within2} | {within10} | "
                     f"{100 * share:.1f}% | {lo:.2f}-{hi:.2f} |")
    analytical = ("<!-- BEGIN ANALYTICAL: scripts/roofline.py --write-docs -->\n" + "\n".join(lines) +
                  "\n<!-- END ANALYTICAL -->")
    if write:
        replace_section(root / "docs" / "performance.md", "ROOFLINE", text)
        replace_section(root / "docs" / "validation.md", "ANALYTICAL", analytical)
    else:
        print(text)
        print(analytical)


if __name__ == "__main__":
    main()
