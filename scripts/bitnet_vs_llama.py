#!/usr/bin/python3
"""The BitNet b1.58 paper's comparison with LLaMA, made with nmpsim: memory and decode latency by
model size, on one hardware config (configs/hw/llm_64x64.json: the same 64 x 64 array with
ternary PEs for BitNet b1.58 and fp16 PEs for LLaMA; everything else equal).

Usage: scripts/bitnet_vs_llama.py [--write-docs]

Each whole-model decode of one token (workloads/models/*_decode*.json) runs timing-only, without
attention (BitNet b1.58 on ternary PEs, LLaMA on fp16 PEs) and with attention over a
512-position KV cache (BitNet b1.58 on int8 PEs with its weights packed ternary and an int8 KV
cache; LLaMA on fp16 PEs with an FP16 cache). Memory:
the decoder layers' weights as stored (from the report), and, derived from the shapes, with the
embedding table and LM head at FP16 added to both (vocabulary 32,000, untied, as LLaMA's).
--write-docs replaces the section between the BITNET VS LLAMA markers of docs/validation.md.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

from doc_section import replace_section

root = pathlib.Path(__file__).resolve().parent.parent
nmpsim = root / "build" / "nmpsim"
hw = root / "configs" / "hw" / "llm_64x64.json"
VOCAB = 32000
SIZES = {"700m": 1536, "1.3b": 2048, "3b": 3200, "3.9b": 3200}  # hidden, for the embeddings
# Ma et al. 2024 (arXiv 2402.17764) Table 1: memory and latency ratios, LLaMA over BitNet b1.58
# (3.9B against LLaMA 3B).
# LLaMA 3.9B at FP16 needs 8.3 GiB of DRAM: every run gets two ranks per LPDDR5 channel (16 GiB,
# the same 51.2 GB/s), so all models run on the same memory.
HW_SETS = ["hw.dram.ranks=2"]
PAPER = {"700m": (2.60, 1.23), "1.3b": (2.93, 1.67), "3b": (3.55, 2.71), "3.9b": (3.32, 2.40)}


def run(model, sets):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "r.json"
        cmd = [str(nmpsim), "run", "--hw", str(hw), "--workload",
               str(root / "workloads" / "models" / f"{model}.json"), "--timing-only", "--quiet",
               "--out", str(out)]
        for s in HW_SETS + sets:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True)
        r = json.loads(out.read_text())
    return {"bytes": r["derived"]["weights"]["stored_bytes"],
            "ms": r["derived"]["latency_per_token_s"] * 1e3,
            "mj": r["derived"]["energy_per_token_j"] * 1e3}


def main():
    lines = [
        "<!-- BEGIN BITNET VS LLAMA: scripts/bitnet_vs_llama.py (configs/hw/llm_64x64.json, "
        "decode of one token, timing-only, hw.dram.ranks=2) -->", "",
        "| size | LLaMA FP16 weights | BitNet b1.58 weights (2 / 1.6 bit) | memory ratio (2 / 1.6 "
        "bit) | with FP16 embeddings and LM head | paper's memory ratio | without attention: "
        "LLaMA / BitNet (2 / 1.6 bit) | latency ratio (2 / 1.6 bit) | with attention (512 "
        "positions): LLaMA / BitNet | latency ratio | paper's latency ratio | energy per token "
        "with attention: LLaMA / BitNet |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, hidden in SIZES.items():
        llama = run(f"llama_fp16_{size}_decode_no_attention", ["hw.mac_array.pe=fp16"])
        b2 = run(f"bitnet_b158_{size}_decode_no_attention", [])
        b16 = run(f"bitnet_b158_{size}_decode_no_attention", ["hw.weight_sram.packing=1.6bit"])
        llama_attn = run(f"llama_fp16_{size}_decode", ["hw.mac_array.pe=fp16"])
        b_attn = run(f"bitnet_b158_{size}_decode", ["hw.mac_array.pe=int8_int8"])
        emb = 2 * VOCAB * hidden * 2  # embedding table and LM head, FP16
        gb = lambda b: f"{b / 1e9:.3f} GB"
        lines.append(
            f"| {size.upper()} | {gb(llama['bytes'])} | {gb(b2['bytes'])} / {gb(b16['bytes'])} | "
            f"{llama['bytes'] / b2['bytes']:.2f}x / {llama['bytes'] / b16['bytes']:.2f}x | "
            f"{(llama['bytes'] + emb) / (b2['bytes'] + emb):.2f}x / "
            f"{(llama['bytes'] + emb) / (b16['bytes'] + emb):.2f}x | {PAPER[size][0]:.2f}x | "
            f"{llama['ms']:.2f} / {b2['ms']:.2f} / {b16['ms']:.2f} ms | "
            f"{llama['ms'] / b2['ms']:.2f}x / {llama['ms'] / b16['ms']:.2f}x | "
            f"{llama_attn['ms']:.2f} / {b_attn['ms']:.2f} ms | "
            f"{llama_attn['ms'] / b_attn['ms']:.2f}x | {PAPER[size][1]:.2f}x | "
            f"{llama_attn['mj']:.0f} / {b_attn['mj']:.1f} mJ |")
        print(lines[-1], file=sys.stderr)
    lines += ["", "<!-- END BITNET VS LLAMA -->"]
    text = "\n".join(lines)
    print(text)
    if "--write-docs" in sys.argv:
        replace_section(root / "docs" / "validation.md", "BITNET VS LLAMA", text)


if __name__ == "__main__":
    main()
