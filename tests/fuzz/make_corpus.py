#!/usr/bin/python3
"""Writes the fuzz harnesses' seed corpora, tests/fuzz/corpus/<parser>/, from the shipped
configs and small inputs built here (one well-formed input of each kind, and a few variants), so
that the fuzzers start from inputs that reach deep into each parser. Run it from the repository
root after building (it runs build/nmpsim for the report and the binary program); the files are
committed.
"""
import json
import pathlib
import shutil
import struct
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent.parent
binary = sys.argv[1] if len(sys.argv) > 1 else str(root / "build" / "nmpsim")
out = root / "tests" / "fuzz" / "corpus"
shutil.rmtree(out, ignore_errors=True)


def put(parser, name, data):
    d = out / parser
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def compact(path):
    return json.dumps(json.loads(pathlib.Path(path).read_text()), separators=(",", ":"))


for f in sorted((root / "configs" / "hw").glob("*.json")):
    put("hw", f.name, compact(f))
put("tech", "45nm.json", compact(root / "configs/tech/45nm.json"))
put("tech", "7nm.json", compact(root / "configs/tech/7nm.json"))
for f in sorted((root / "configs" / "workloads").glob("*.json")):
    put("workload", f.name, compact(f))
for name in ["bert_base_layer_seq128", "speech_lstm_5x800_decoder", "speech_gru_4x1024_decoder",
             "speech_lstm_5x800_whole", "speech_gru_4x1024_whole",
             "bitnet_b158_700m_layer_decode"]:
    put("workload", name + ".json", compact(root / "workloads/models" / (name + ".json")))
put("workload", "attention_block.json", compact(root / "tests/scripts/data/attention_block.json"))

# Paths relative to the repository root, where scripts/fuzz.sh runs the harnesses.
hw = "configs/hw/default.json"
wl = "configs/workloads/default.json"
put("sweep", "grid.json", json.dumps({
    "name": "s", "hw": hw, "workload": wl,
    "grid": {"hw.mac_array.rows": [16, 32], "hw.mac_array.dataflow": ["adder_tree", "weight_stationary"]},
    "random": {"samples": 3, "seed": 2, "fields": {
        "hw.dram.bytes_per_cycle": {"min": 8, "max": 128, "integer": True},
        "hw.mac_array.pe": {"choices": ["int8_int8", "fp16"]}}},
    "timing_only": True}))
put("sweep", "zip_constraints.json", json.dumps({
    "name": "z", "hw": hw, "workload": wl,
    "grid": {"hw.mac_array.rows": [16, 32]},
    "zip": [{"hw.mac_array.pe": ["int8_int8", "fp16"], "workload.layers.0.format": ["int8", "fp16"]}],
    "constraints": {"area_um2.total": {"max": 2e6}, "derived.tokens_per_s": {"min": 50, "max": 1e9}},
    "timing_only": True}))
put("suite", "core.json", compact(root / "configs/suites/core.json"))
put("set", "sets.txt", "hw.mac_array.rows=32\nhw.weight_sram.ports=2rw\nworkload.layers.0.out_features=128\n"
    "tech.ops.int8_add.energy_pj=0.5\nworkload.layers.1={\"type\":\"bitlinear\",\"in_features\":6912,\"out_features\":8}\n")
# fuzz_set's finding: an index under a parent the document lacks (std::bad_alloc, exit 1, before
# the fix).
put("set", "created_index.txt", "hw.mohwm.88888888888.x=1\n")
# The stored activation format and the mapper's objective (fields added 2026-12-05).
put("set", "storage_objective.txt",
    "hw.dram.activation_format=fp8_e4m3\nhw.vector_unit.format=posit<16,1>\n"
    "workload.objective=edp\n")

program = """        .equ TILE, 64
        li r1, 0
        li r2, 4096
        li r3, 8192
loop:   dma.load space=asram, sram=r1, dram=r2, rows=2, row_bytes=64, sram_stride=64, dram_stride=64
        gemm act=r1, wgt=r1, acc=r3, m=1, n=TILE, k=(TILE * 2) - 64, act_stride=64, acc_stride=256, mode=accumulate
        vred op=mean, dst=r3, dst_mem=acc, src=r1, src_mem=asram, m=1, n=8, src_stride=64
        addi r4, r4, -1
        bnez r4, loop
        halt
"""
put("dram", "stream.trace", "".join(f"{hex(64 * i)} READ {i // 4}\n" for i in range(64)))
put("dram", "mixed.trace", "# comment\n0x0 READ 0\n0x1fffffc0 WRITE 3\n0x40000 READ 100000\n"
    "0x40 write 100001\n")
put("asm", "program.s", program)
put("asm", "bad.s", (root / "tests/golden/bad_input/bad.s").read_text())
(out / "asm" / "program.s").write_text(program)
bin_path = out / "program.bin"
r = subprocess.run([binary, "asm", str(out / "asm" / "program.s"), "-o", str(bin_path)],
                   capture_output=True, text=True)
if r.returncode == 0:
    put("program", "program.bin", bin_path.read_bytes()[4:])  # the harness prepends the magic
    bin_path.unlink()
else:
    # The sample may not assemble as the ISA changes: fall back to the shipped test program.
    sys.exit("asm failed: " + r.stderr)


def npy(descr, shape, data):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, "".join(f"{d}, " for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data


put("npy", "f4.npy", npy("<f4", (2, 3), struct.pack("<6f", 1, -2, 3.5, 0, 1e-3, 7)))
put("npy", "i1.npy", npy("|i1", (4,), bytes([1, 255, 0, 127])))
put("npy", "f2.npy", npy("<f2", (3,), struct.pack("<3e", 1.5, -0.25, 65504)))


def safetensors(tensors, data):
    header = json.dumps(tensors).encode()
    return len(header).to_bytes(8, "little") + header + data


put("safetensors", "w.safetensors", safetensors(
    {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
     "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
     "__metadata__": {"format": "pt"}}, struct.pack("<4f", 1, 2, 3, 4) + bytes(4)))
put("safetensors", "i8.safetensors", safetensors({"w": {"dtype": "I8", "shape": [3], "data_offsets": [0, 3]}},
                                                 bytes([1, 2, 3])))

report = out / "report.json"
small = {"name": "small", "tokens": 1, "layers": [{"type": "bitlinear", "name": "l", "in_features": 64, "out_features": 32}]}
(out / "small.json").write_text(json.dumps(small))
subprocess.run([binary, "run", "--hw", hw, "--workload", str(out / "small.json"), "-q", "--out", str(report)],
               check=True, cwd=root)
rep = json.loads(report.read_text())
rep["config"]["tech"] = {"name": rep["config"]["tech"]["name"]}  # keep it under the fuzzers' 64 KiB
put("report", "report.json", json.dumps(rep, separators=(",", ":")))
report.unlink()
(out / "small.json").unlink()

# --mapping files, applied to the harness's own graph (norm, a: 200 -> 300 with a bias, b)
put("mapping", "forced_both.json", json.dumps({"layers": {"a": {"loop_order": "weights_outer", "n_tile": 64,
                                                     "k_tile": 64, "rows": 10}}}))
put("mapping", "rows_outer.json", json.dumps({"layers": {"b": {"loop_order": "rows_outer", "n_tile": 32,
                                                    "rows": 5}}}))
put("mapping", "overlapped.json", json.dumps({"layers": {"a": {"epilogue": "overlapped", "n_tile": 64},
                                                     "b": {"epilogue": "inline"}}}))
put("mapping", "row_conversion.json", json.dumps({"layers": {"a": {"row_conversion": "dma"},
                                                         "b": {"row_conversion": "pass",
                                                               "epilogue": "overlapped"}}}))
put("mapping", "bad_k_tile.json", json.dumps({"layers": {"a": {"k_tile": 30}}}))
put("mapping", "unknown_layer.json", json.dumps({"layers": {"zz": {}}}))
put("mapping", "large.json", json.dumps({"layers": {"a": {"loop_order": "auto"},
                                         "b": {"loop_order": "weights_outer", "n_tile": 65535,
                                               "k_tile": 1048576, "rows": 37}}}))

put("arith", "fp16.txt", "fp16\nadd 1.5 0x3c00\nmul 3 0.1\nsqrt 2\nfdp 1,2,3 4,5,6\nfrom_double 5e-324\n")
put("arith", "posit.txt", "posit<16,1>\ndiv 1 3\nto_double 0x4000\nsub 1e400 -1e-400\n")
put("arith", "fixed.txt", "fixed<4,12,trunc,wrap>\nadd 7.9 0.2\nmul -8 -1\n")
for d in sorted(out.iterdir()):
    print(d.name, len(list(d.iterdir())), "inputs")
