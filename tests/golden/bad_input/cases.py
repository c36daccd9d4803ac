"""The bad-input corpus: every case is a command line (and optionally standard input) that
nmpsim must refuse with exit code 2 and one clear message per problem, naming the file and JSON
path or line:column. scripts/regen_golden.py writes the inputs below into this folder, the case
list into cases.json, and each case's expected standard error into <case>.err.

A case: (name, args, stdin). Inputs the cases read are written by write_inputs(); paths are
relative to the repository root, where the test runs nmpsim.
"""
import json
import pathlib
import struct

HERE = "tests/golden/bad_input"
HW = "configs/hw/default.json"
WL = "configs/workloads/default.json"
LLM = "configs/hw/llm_64x64.json"


def run(*extra, hw=HW, workload=WL):
    return ["run", "--hw", hw, "--workload", workload, *extra]


def hw_set(*sets):
    args = run()
    for s in sets:
        args += ["--set", "hw." + s]
    return args


def wl_set(*sets, workload=WL, hw=HW, extra=()):
    args = run(*extra, hw=hw, workload=workload)
    for s in sets:
        args += ["--set", "workload." + s]
    return args


def tech_set(*sets):
    args = run()
    for s in sets:
        args += ["--set", "tech." + s]
    return args


def f(name):
    return f"{HERE}/{name}"


# Inputs: file name -> bytes (or text, or JSON).
def npy(descr, shape, data, fortran=False, version=1):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", "".join(f"{d}, " for d in shape))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return (b"\x93NUMPY" + bytes([version, 0]) + len(header).to_bytes(2, "little") +
            header.encode() + data)


def safetensors(tensors, data, claimed_header=None):
    header = json.dumps(tensors).encode()
    length = len(header) if claimed_header is None else claimed_header
    return length.to_bytes(8, "little") + header + data


def linear_from(source, format="fp16", in_features=8, out_features=4, kind="linear"):
    layer = {"type": kind, "name": "l", "in_features": in_features,
             "out_features": out_features, "weights": source}
    if kind == "linear":
        layer["format"] = format
    return {"name": "w", "tokens": 1, "layers": [layer]}


def program_header(count, version=1, header=32, instr=16, revision=2, reserved=b"\0" * 12):
    return (b"NMPB" + struct.pack("<HHIII", version, header, count, instr, revision) + reserved)


def base_hw():
    return json.loads(pathlib.Path(HW).read_text())


def graph(layers, tokens=2, input_features=16):
    return {"name": "g", "tokens": tokens,
            "layers": [dict(layers[0], in_features=input_features)] + layers[1:]}


INPUTS = {
    "empty.json": "",
    "array.json": "[1, 2, 3]",
    "trailing.json": '{"name": "x"} extra',
    "deep.json": "[" * 200 + "]" * 200,
    "huge_number.json": '{"name": "big", "clock_mhz": 1e400}',
    "nan_literal.json": '{"name": "x", "clock_mhz": NaN}',
    "bad_utf8.json": b'{"name": "\xff\xfe"}',
    "comment.json": '{"name": "x" /* no comments in JSON */}',
    "hw_missing_mac.json": {"name": "no-array", "weight_sram": {}, "act_sram": {}},
    "hw_wrong_types.json": dict(base_hw(), clock_mhz="fast", mac_array=dict(
        base_hw()["mac_array"], weight_preload_overlap="yes")),
    "hw_nested_unknown.json": dict(base_hw(), dram=dict(base_hw()["dram"], bandwidth=64)),
    "hw_missing_tech.json": dict(base_hw(), technology="../tech/nope.json"),
    "tech_no_ops.json": {"name": "t", "node_nm": 45, "voltage_v": 0.9},
    "tech_bad_scaled.json": {"name": "t", "node_nm": 45, "voltage_v": 0.9,
                             "scaled_from": {"library": "nowhere.json", "energy_exponent": 0.5,
                                             "area_exponent": 1, "source": "x"}},
    "tech_one_point.json": {"name": "t", "node_nm": 45, "voltage_v": 0.9, "scaled_from": {
        "library": "../../../configs/tech/45nm.json", "energy_exponent": 0.5, "area_exponent": 1,
        "source": "x"}, "sram": {"source": "x", "macros": [
            {"capacity_kib": 8, "width_bits": 64, "ports": "1rw", "read_pj": 10, "write_pj": 10,
             "leakage_mw": 1, "area_um2": 30000}]}},
    # Leakage falling as capacity grows: the fit's per-bit leakage is negative.
    "tech_sram_shrinking.json": {"name": "t", "node_nm": 45, "voltage_v": 0.9, "scaled_from": {
        "library": "../../../configs/tech/45nm.json", "energy_exponent": 0.5, "area_exponent": 1,
        "source": "x"}, "sram": {"source": "x", "macros": [
            {"capacity_kib": kib, "width_bits": w, "ports": ports, "read_pj": 10, "write_pj": 10,
             "leakage_mw": 100 / kib, "area_um2": 4096 * kib + 30 * w}
            for ports in ("1rw", "1r1w", "2rw") for kib in (2, 8, 32) for w in (32, 128)]}},
    "workload_no_layers.json": {"name": "w", "tokens": 1, "layers": []},
    "workload_layers_object.json": {"name": "w", "tokens": 1, "layers": {"type": "bitlinear"}},
    "workload_attention_kv.json": {"name": "w", "tokens": 1, "layers": [
        {"type": "attention", "format": "int8", "heads": 6, "kv_heads": 4, "head_dim": 16}]},
    "workload_cross_no_context.json": {"name": "w", "tokens": 1, "layers": [
        {"type": "attention", "format": "int8", "heads": 2, "head_dim": 16, "mode": "cross"}]},
    "workload_mixed_pe.json": {"name": "w", "tokens": 1, "layers": [
        {"type": "linear", "format": "fp16", "in_features": 16, "out_features": 16},
        {"type": "linear", "format": "bf16", "in_features": 16, "out_features": 16}]},
    "workload_uniform_inverted.json": {"name": "w", "tokens": 1, "layers": [
        {"type": "bitlinear", "in_features": 16, "out_features": 16,
         "weights": {"distribution": "uniform", "low": 1, "high": -1}}]},
    "graph_unknown_input.json": graph([
        {"type": "rmsnorm", "name": "n"}, {"type": "add", "name": "a", "inputs": ["n", "ghost"]}]),
    "graph_embedding_late.json": graph([
        {"type": "rmsnorm", "name": "n"},
        {"type": "embedding", "name": "e", "vocab": 10, "out_features": 16}]),
    "graph_pool_stride.json": graph([{"type": "pool", "name": "p", "stride": 8}], tokens=4),
    "graph_rope_heads.json": graph([{"type": "rope", "name": "r", "heads": 3}]),
    "graph_add_widths.json": graph([
        {"type": "linear", "format": "fp16", "name": "up", "out_features": 32},
        {"type": "add", "name": "a", "inputs": ["up", "input"]}]),
    "graph_activation_function.json": graph([
        {"type": "activation", "name": "a", "function": "softplus"}]),
    "graph_attention_inputs.json": graph([
        {"type": "linear", "format": "int8", "name": "q", "out_features": 32},
        {"type": "attention", "format": "int8", "name": "att", "heads": 2, "head_dim": 16,
         "inputs": ["q", "q"]}]),
    "graph_input_unread.json": dict(graph([{"type": "rmsnorm", "name": "n"}]),
                                    inputs={"frames": {"tokens": 3}}),
    "graph_token_ids_as_rows.json": dict(graph([
        {"type": "rmsnorm", "name": "n"},
        {"type": "embedding", "name": "e", "vocab": 10, "out_features": 16,
         "inputs": ["characters"]},
        {"type": "rmsnorm", "name": "m", "inputs": ["characters"]}]),
        inputs={"characters": {"tokens": 4}}),
    "graph_cross_memory_context.json": dict(graph([
        {"type": "linear", "format": "int8", "name": "memory", "out_features": 16},
        {"type": "embedding", "name": "e", "vocab": 10, "out_features": 16,
         "inputs": ["characters"]},
        {"type": "attention", "format": "int8", "name": "att", "mode": "cross", "heads": 1,
         "head_dim": 16, "context": 5, "inputs": ["e", "memory"]}]),
        inputs={"characters": {"tokens": 4}}),
    "graph_step_loop_pool.json": dict(graph([
        {"type": "rmsnorm", "name": "n"}, {"type": "pool", "name": "p", "stride": 2},
        {"type": "activation", "name": "a", "function": "tanh"}], tokens=4),
        step_loop={"first": "n", "last": "a"}),
    "graph_step_loop_carried_width.json": dict(graph([
        {"type": "rmsnorm", "name": "n"},
        {"type": "concat", "name": "c", "inputs": ["n", "state"]},
        {"type": "linear", "format": "fp16", "name": "l", "in_features": 24, "out_features": 16}]),
        step_loop={"first": "c", "last": "l", "carried": {"state": {"from": "l", "width": 8}}}),
    "weights_missing.json": linear_from({"file": "nowhere.npy"}),
    "weights_dir.json": linear_from({"file": "."}),
    "weights_safetensors_no_tensor.json": linear_from({"file": "w_ok.safetensors"}),
    "weights_npy_with_tensor.json": linear_from({"file": "weights_wrong_shape.npy", "tensor": "w"}),
    "weights_prequantized_linear.json": linear_from(
        {"file": "w_ok.safetensors", "tensor": "w", "prequantized": True}),
    "weights_prequantized_values.json": linear_from(
        {"file": "w_ok.safetensors", "tensor": "w", "prequantized": True}, kind="bitlinear"),
    "weights_fortran.json": linear_from({"file": "fortran.npy"}),
    "weights_bad_descr.json": linear_from({"file": "bad_descr.npy"}),
    "weights_big_endian.json": linear_from({"file": "big_endian.npy"}),
    "weights_bad_magic.json": linear_from({"file": "bad_magic.npy"}),
    "weights_npy_version.json": linear_from({"file": "npy_version9.npy"}),
    "weights_overlap.json": linear_from({"file": "overlap.safetensors", "tensor": "w"}),
    "weights_dtype.json": linear_from({"file": "dtype.safetensors", "tensor": "w"}),
    "weights_offsets_reversed.json": linear_from({"file": "reversed.safetensors", "tensor": "w"}),
    "weights_header_huge.json": linear_from({"file": "header_huge.safetensors", "tensor": "w"}),
    "weights_shape_text.json": linear_from({"file": "shape_text.npy"}),
    "weights_fortran_cut.json": linear_from({"file": "fortran_cut.npy"}),
    "fortran.npy": npy("<f4", (4, 8), bytes(128), fortran=True),
    "bad_descr.npy": npy("<f\x14", (4, 8), bytes(128)),
    "big_endian.npy": npy(">f4", (4, 8), bytes(128)),
    "bad_magic.npy": b"\x93NUMPX" + npy("<f4", (4, 8), bytes(128))[6:],
    "npy_version9.npy": npy("<f4", (4, 8), bytes(128), version=9),
    "shape_text.npy": npy("<f4", ("four", 8), bytes(128)),
    # Found by fuzzing: a header that ends right after 'fortran_order':.
    "fortran_cut.npy": (b"\x93NUMPY\x01\x00" + (40).to_bytes(2, "little") +
                        b"{'descr': '<f4', 'fortran_order':" + b" " * 6 + b"\n"),
    "w_ok.safetensors": safetensors({"w": {"dtype": "F32", "shape": [4, 8],
                                           "data_offsets": [0, 128]}}, struct.pack("<32f", *([0.5] * 32))),
    "overlap.safetensors": safetensors({"w": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]},
                                        "v": {"dtype": "F32", "shape": [2], "data_offsets": [120, 128]}},
                                       bytes(128)),
    "dtype.safetensors": safetensors({"w": {"dtype": "C64", "shape": [4, 8],
                                            "data_offsets": [0, 256]}}, bytes(256)),
    "reversed.safetensors": safetensors({"w": {"dtype": "F32", "shape": [4, 8],
                                               "data_offsets": [128, 0]}}, bytes(128)),
    "header_huge.safetensors": (200_000_000).to_bytes(8, "little") + b"{}",
    "trace_words.trace": "0x0 READ 0\n0x40 READ\n",
    "trace_address.trace": "0x0 READ 0\n0xg0 READ 1\n",
    "trace_operation.trace": "0x0 READ 0\n0x40 FETCH 1\n",
    "trace_cycle.trace": "0x0 READ 0\n0x40 WRITE -1\n",
    "trace_order.trace": "0x0 READ 10\n0x40 WRITE 5\n",
    "trace_capacity.trace": "# one past the DDR4 rank's 8 GiB\n0x200000000 READ 0\n",
    "trace_huge.trace": "0x0 READ 99999999999999999999\n",
    "bin_magic.bin": b"NMPX" + program_header(0)[4:],
    "bin_version.bin": program_header(0, version=7),
    "bin_reserved.bin": program_header(0, reserved=b"\0" * 11 + b"\1"),
    "bin_truncated.bin": program_header(3) + bytes(20),
    "bin_opcode.bin": program_header(1) + bytes([0xff]) + bytes(15),
    "bin_revision.bin": program_header(0, revision=1),
    "asm_unknown.s": "        li r1, 0\n        frob r1, r2\n        halt\n",
    "asm_missing.s": "        li r1\n        halt\n",
    "asm_register.s": "        li r16, 0\n        halt\n",
    "asm_register_huge.s": "        li r" + "7" * 40 + ", 1\n        halt\n",
    "asm_deep.s": "        li r1, " + "(" * 100 + "1" + ")" * 100 + "\n        halt\n",
    "asm_overflow.s": "        li r1, 9223372036854775807 + 1\n        halt\n",
    "asm_negate_min.s": "        .equ M, -9223372036854775807 - 1\n        li r1, -M\n        halt\n",
    "asm_redefine.s": "        .equ A, 1\n        .equ A, 2\n        halt\n",
    "asm_label_twice.s": "x:      li r1, 0\nx:      halt\n",
    "asm_directive.s": "        .org 100\n        halt\n",
    "asm_unknown_label.s": "        bnez r1, nowhere\n        halt\n",
    "asm_field.s": "        vred op=median, dst=r1, dst_mem=acc, src=r2, src_mem=asram, m=1, n=8, src_stride=8\n"
                   "        halt\n",
    "asm_no_halt.s": "        li r1, 0\n",
    "asm_big.s": "".join("        li r1, %d\n" % i for i in range(80)) + "        halt\n",
    "asm_dma_outside.s": "        li r1, 0\n        li r2, 0\n"
                         "        dma.load space=asram, sram=r1, dram=r2, rows=1, row_bytes=64, "
                         "sram_stride=64, dram_stride=64\n        halt\n",
    "report_not.json": {"name": "not a report"},
    "report_schema.json": {"schema_version": 9},
    "report_missing.json": {"schema_version": 1, "config": {"hw": {}, "workload": {}},
                            "cycles": {"total": 5}},
    "report_types.json": {"schema_version": 1, "config": {"hw": {"name": 3}, "workload": {}}},
    "sweep_missing_hw.json": {"name": "s", "hw": "nope/hw.json", "workload": WL,
                              "grid": {"hw.mac_array.rows": [8, 16]}},
    "sweep_long_path.json": {"name": "s", "hw": HW, "workload": "configs/" + "x" * 5000 + ".json",
                              "grid": {"hw.mac_array.rows": [8, 16]}},
    "sweep_too_big.json": {"name": "s", "hw": HW, "workload": WL,
                           "grid": {f"hw.vector_unit.lanes": list(range(1, 101)),
                                    "hw.mac_array.rows": list(range(1, 101)),
                                    "hw.mac_array.cols": list(range(1, 101)),
                                    "hw.dram.latency_cycles": list(range(1, 101))}},
    "sweep_empty.json": {"name": "s", "hw": HW, "workload": WL},
    "sweep_grid_value.json": {"name": "s", "hw": HW, "workload": WL, "grid": {"hw.mac_array.rows": 8}},
    "sweep_range.json": {"name": "s", "hw": HW, "workload": WL, "random": {
        "samples": 2, "fields": {"hw.mac_array.rows": {"min": 10, "max": 2}}}},
    "sweep_range_huge.json": {"name": "s", "hw": HW, "workload": WL, "random": {
        "samples": 2, "fields": {"hw.mac_array.rows": {"min": 8, "max": 1.5e20, "integer": True}}}},
    "sweep_range_no_integer.json": {"name": "s", "hw": HW, "workload": WL, "random": {
        "samples": 2, "fields": {"hw.mac_array.rows": {"min": 8.2, "max": 8.7, "integer": True}}}},
    "sweep_root.json": {"name": "s", "hw": HW, "workload": WL, "grid": {"mac_array.rows": [8]}},
    "sweep_unknown.json": {"name": "s", "hw": HW, "workload": WL, "grid": {"hw.mac_array.rows": [8]},
                           "jobs": 4},
    "sweep_zip_lengths.json": {"name": "s", "hw": HW, "workload": WL, "zip": [
        {"hw.mac_array.rows": [8, 16, 32], "hw.mac_array.cols": [8, 16]}]},
    "sweep_zip_alone.json": {"name": "s", "hw": HW, "workload": WL, "zip": [
        {"hw.mac_array.rows": [8, 16]}]},
    "sweep_zip_twice.json": {"name": "s", "hw": HW, "workload": WL,
                             "grid": {"hw.mac_array.rows": [8, 16]},
                             "zip": [{"hw.mac_array.rows": [8, 16], "hw.mac_array.cols": [8, 16]}]},
    "sweep_zip_root.json": {"name": "s", "hw": HW, "workload": WL, "zip": [
        {"mac_array.rows": [8, 16], "hw.mac_array.cols": [8, 16]}]},
    "sweep_constraint_empty.json": {"name": "s", "hw": HW, "workload": WL,
                                    "grid": {"hw.mac_array.rows": [8, 16]},
                                    "constraints": {"area_um2.total": {}}},
    "sweep_constraint_order.json": {"name": "s", "hw": HW, "workload": WL,
                                    "grid": {"hw.mac_array.rows": [8, 16]},
                                    "constraints": {"area_um2.total": {"min": 5, "max": 2},
                                                    "derived.tokens_per_s": {"minimum": 50}}},
    "suite_variant.json": {"name": "s", "baseline": "none.json", "variants": {},
                           "workloads": {"w": {"workload": {"name": "x"}}}, "cases": [["v", "w"]]},
    "suite_both.json": {"name": "s", "baseline": "none.json", "variants": {"v": {"hw": "x.json"}},
                        "workloads": {"w": {"workload": {"name": "x"}, "file": "y.json"}},
                        "cases": [["v", "w"]]},
    "suite_missing_baseline.json": {"name": "s", "baseline": "missing.baseline.json",
                                    "variants": {"v": {"hw": "../../../configs/hw/default.json"}},
                                    "workloads": {"w": {"workload": {"name": "x", "tokens": 1, "layers": [
                                        {"type": "bitlinear", "in_features": 8, "out_features": 8}]}}},
                                    "cases": [["v", "w"]]},
    "suite_bad_baseline.json": {"name": "s", "baseline": "array.json",
                                "variants": {"v": {"hw": "../../../configs/hw/default.json"}},
                                "workloads": {"w": {"workload": {"name": "x", "tokens": 1, "layers": [
                                    {"type": "bitlinear", "in_features": 8, "out_features": 8}]}}},
                                "cases": [["v", "w"]]},
    "suite_file_missing.json": {"name": "s", "baseline": "none.json", "variants": {"v": {"hw": "x.json"}},
                                "workloads": {"w": {"file": "nowhere.json", "timing_only": True}},
                                "cases": [["v", "w"]]},
    "ids_out_of_vocab.npy": npy("<f4", (2,), struct.pack("<2f", 3, 12)),
    "workload_ids.json": {"name": "ids", "tokens": 2, "input": {"file": "ids_out_of_vocab.npy"},
                          "layers": [{"type": "embedding", "name": "e", "vocab": 10, "out_features": 16},
                                     {"type": "rmsnorm", "name": "n"}]},
    "terabyte.json": {"name": "tb", "tokens": 1, "layers": [
        {"type": "bitlinear", "in_features": 1048576, "out_features": 1048576}]},
    "recurrent_bias_file.json": {"name": "r", "tokens": 2, "layers": [
        {"type": "lstm", "format": "fp16", "in_features": 8, "hidden": 8,
         "weights": {"seed": 1}, "biases": {"file": "w_ok.safetensors", "tensor": "w"}}]},
    # --mapping files, against the 700M layer decode (a graph; q is a bitlinear layer)
    "mapping_unknown_layer.json": {"layers": {"qq": {"loop_order": "weights_outer"}}},
    "mapping_not_linear.json": {"layers": {"attn": {"rows": 1}}},
    "mapping_buffer_sets.json": {"layers": {"attn_norm": {"buffer_sets": 3}}},
    "mapping_k_tile.json": {"layers": {"q": {"k_tile": 100}}},
    "mapping_rows.json": {"layers": {"q": {"rows": 2}}},
    "mapping_too_big.json": {"layers": {"q": {"loop_order": "rows_outer", "n_tile": 1536,
                                              "k_tile": 1536}}},
    "mapping_field.json": {"layers": {"q": {"order": "rows_outer"}}},
    "mapping_dma_int.json": {"layers": {"q": {"row_conversion": "dma"}}},
    "mapping_dma_rows_outer.json": {"layers": {"q": {"loop_order": "rows_outer",
                                                     "row_conversion": "pass"}}},
    "mapping_residency_rows_outer.json": {"layers": {"q": {"loop_order": "rows_outer",
                                                           "input_residency": "resident"}}},
    "mapping_residency_value.json": {"layers": {"q": {"input_residency": "most"}}},
}

CASES = []


def case(name, args, stdin=None):
    CASES.append({"name": name, "args": args, **({"stdin": stdin} if stdin is not None else {})})


# --- the original cases ---------------------------------------------------------------------
case("missing_file", run(hw="configs/hw/nope.json"))
case("malformed_json", run(hw=f("hw_malformed.json")))
case("unknown_field", run(hw=f("hw_unknown_field.json")))
case("bad_values", run(hw=f("hw_bad_values.json")))
case("bad_set", run("--set", "hw.mac_array.cols=-3", "--set", "hw.dram.latency=5"))
case("bad_set_syntax", run("--set", "mac_array.rows=3"))
case("tech_missing_source", run("--tech", f("tech_missing_source.json")))
case("tech_unused_op", run("--tech", f("tech_unused_op.json")))
case("workload_bad_layers", run(workload=f("workload_bad_layers.json")))
case("sram_too_small", run("--set", "hw.weight_sram.capacity_kib=1", workload=f("workload_big.json")))
case("acc_single_port", run("--set", "hw.acc_sram.ports=1rw"))
case("missing_option", ["run", "--hw", HW])
case("unknown_command", ["frobnicate"])
case("asm_error", ["asm", f("bad.s"), "-o", "/dev/null"])
case("disasm_corrupt", ["disasm", f("corrupt.bin")])
for name in ["weights_truncated_npy", "weights_wrong_shape", "weights_bad_safetensors",
             "weights_truncated_safetensors", "weights_missing_tensor"]:
    case(name, run("--set", "hw.mac_array.pe=fp16", workload=f(f"workload_{name}.json")))

# --- files that are not JSON, or not files ----------------------------------------------------
for name in ["empty", "array", "trailing", "deep", "huge_number", "nan_literal", "bad_utf8",
             "comment"]:
    case(f"hw_{name}", run(hw=f(f"{name}.json")))
case("workload_deep", run(workload=f("deep.json")))
case("tech_deep", run("--tech", f("deep.json")))
case("hw_directory", run(hw="configs"))
case("hw_device", run(hw="/dev/zero"))
case("workload_device", run(workload="/dev/null"))
case("tech_missing", run("--tech", "configs/tech/3nm.json"))

# --- hardware fields --------------------------------------------------------------------------
case("hw_missing_mac_array", run(hw=f("hw_missing_mac.json")))
case("hw_wrong_types", run(hw=f("hw_wrong_types.json")))
case("hw_nested_unknown", run(hw=f("hw_nested_unknown.json")))
case("hw_missing_technology", run(hw=f("hw_missing_tech.json")))
for name, setting in [
    ("rows_zero", "mac_array.rows=0"), ("rows_huge", "mac_array.rows=4097"),
    ("rows_string", 'mac_array.rows="8"'), ("rows_fraction", "mac_array.rows=1.5"),
    ("rows_big_integer", "mac_array.rows=18446744073709551616"),
    ("dataflow", "mac_array.dataflow=weight_stationery"), ("pe", "mac_array.pe=int4_int4"),
    ("fold_timing", "mac_array.fold_timing=scalesim"), ("accumulation", "mac_array.float_accumulation=fp64"),
    ("preload_overlap", "mac_array.weight_preload_overlap=1"),
    ("banks_zero", "weight_sram.banks=0"), ("width_odd", "weight_sram.width_bits=12"),
    ("ports", "weight_sram.ports=3rw"), ("packing", "weight_sram.packing=3bit"),
    ("capacity_zero", "act_sram.capacity_kib=0"), ("capacity_huge", "act_sram.capacity_kib=99999999"),
    ("lanes_zero", "vector_unit.lanes=0"), ("vector_format", "vector_unit.format=float17"),
    ("accumulator_format", "vector_unit.accumulator_format=fixed<40,40>"),
    ("pwl_segments", "vector_unit.pwl_segments=3"), ("pwl_frac_bits", "vector_unit.pwl_frac_bits=40"),
    ("dram_bandwidth", "dram.bytes_per_cycle=0"), ("dram_burst", "dram.burst_bytes=0"),
    ("activation_format", "dram.activation_format=fp12"),
    ("clock_negative", "clock_mhz=-1"), ("clock_zero", "clock_mhz=0"),
    ("queue_depth", "controller.queue_depth=0"), ("imem_zero", "controller.imem_kib=0"),
    ("branch_penalty", "controller.branch_penalty_cycles=1000"),
    ("unknown_section", "cache.size=4"), ("technology_missing", "technology=../tech/1nm.json"),
    ("name_number", "name=5"),
]:
    case(f"hw_set_{name}", hw_set(setting))
case("hw_set_parent_not_object", hw_set("mac_array.rows.x=1"))
case("set_index_past_end", wl_set("layers.2147483648.in_features=3"))
case("set_index_word", wl_set("layers.first.in_features=3"))
case("objective_unknown", run("--objective", "fastest"))
# An index under a parent the document lacks would make nlohmann build an array of that size
# (fuzz_set found it: exit 1 with std::bad_alloc).
case("set_index_in_created_path", hw_set("mohwm.88888888888.x=1"))
case("set_append_in_created_path", hw_set("mac_array.extra.-=1"))
case("set_empty_path", run("--set", "hw.=3"))
case("set_empty_component", run("--set", "hw.mac_array..rows=3"))
case("set_no_value", run("--set", "hw.mac_array.rows"))
case("set_bad_json", run("--set", "hw.mac_array.rows=[1,"))
case("set_huge_number", run("--set", "hw.clock_mhz=1e400"))
case("set_deep", run("--set", "hw.name=" + "[" * 200 + "]" * 200))
case("set_root", run("--set", "chip.mac_array.rows=4"))

# --- technology -------------------------------------------------------------------------------
case("tech_no_ops", run("--tech", f("tech_no_ops.json")))
case("tech_scaled_missing", run("--tech", f("tech_bad_scaled.json")))
case("tech_one_sram_point", run("--tech", f("tech_one_point.json")))
case("tech_sram_shrinking", run("--tech", f("tech_sram_shrinking.json")))
for name, setting in [
    ("energy_negative", "ops.int8_add.energy_pj=-1"), ("energy_string", "ops.int8_add.energy_pj=cheap"),
    ("area_negative", "ops.int8_add.area_um2=-5"), ("op_unused", 'ops.int3_add={"energy_pj":1,"source":"x"}'),
    ("op_no_source", 'ops.int8_add={"energy_pj":1}'), ("node_zero", "node_nm=0"),
    ("voltage", "voltage_v=50"), ("dram_negative", "dram_pj_per_bit.value=-1"),
    ("sram_area", "sram.macros.0.area_um2=-1"), ("sram_ports", "sram.macros.0.ports=3rw"),
    ("register_energy", "register_bit_pj_per_cycle.value=-0.5"),
    ("leakage_no_source", 'leakage_mw_per_mm2={"value":1}'),
]:
    case(f"tech_set_{name}", tech_set(setting))

# --- workloads --------------------------------------------------------------------------------
for name in ["workload_no_layers", "workload_layers_object", "workload_attention_kv",
             "workload_cross_no_context", "workload_mixed_pe", "workload_uniform_inverted",
             "graph_unknown_input", "graph_embedding_late", "graph_pool_stride", "graph_rope_heads",
             "graph_add_widths", "graph_activation_function", "graph_attention_inputs",
             "graph_input_unread", "graph_token_ids_as_rows", "graph_cross_memory_context",
             "graph_step_loop_pool", "graph_step_loop_carried_width",
             "recurrent_bias_file"]:
    pe = ("int8_int8" if "attention" in name else "fp16" if name in (
        "workload_mixed_pe", "graph_add_widths", "recurrent_bias_file",
        "graph_step_loop_carried_width") else "ternary_int8")
    case(name, run("--set", f"hw.mac_array.pe={pe}", workload=f(f"{name}.json")))
case("workload_ids_out_of_vocab", run(workload=f("workload_ids.json")))
for name, setting in [
    ("tokens_zero", "tokens=0"), ("tokens_huge", "tokens=70000"), ("type", "layers.0.type=conv2d"),
    ("in_features", "layers.0.in_features=0"), ("out_features", "layers.0.out_features=2000000"),
    ("distribution", "layers.0.weights.distribution=laplace"), ("std_negative", "layers.0.weights.std=-1"),
    ("seed_negative", "layers.0.weights.seed=-1"), ("unknown_layer_field", "layers.0.dropout=0.1"),
    ("format_on_bitlinear", "layers.0.format=fp16"), ("name_type", "layers.0.name=[1]"),
    ("input_file", 'input={"file":"nowhere.npy"}'), ("chain", 'layers.1={"type":"bitlinear","in_features":5,"out_features":8}'),
]:
    case(f"workload_set_{name}", wl_set(setting))
for name in ["weights_missing", "weights_dir", "weights_safetensors_no_tensor", "weights_npy_with_tensor",
             "weights_prequantized_linear", "weights_prequantized_values", "weights_fortran",
             "weights_bad_descr", "weights_big_endian", "weights_bad_magic", "weights_npy_version",
             "weights_overlap", "weights_dtype", "weights_offsets_reversed", "weights_header_huge",
             "weights_shape_text", "weights_fortran_cut"]:
    pe = "ternary_int8" if name == "weights_prequantized_values" else "fp16"
    case(name, run("--set", f"hw.mac_array.pe={pe}", workload=f(f"{name}.json")))
case("lowering_wrong_pe", run("--set", "hw.mac_array.pe=fp16"))
case("lowering_imem", run("--set", "hw.controller.imem_kib=1",
                          workload="workloads/models/bitnet_b158_700m_layer_decode.json",
                          hw=LLM) + ["--set", "hw.mac_array.pe=int8_int8"])
case("memory_terabyte", run("--max-memory", "8G", workload=f("terabyte.json")))
case("memory_limit", run("--max-memory", "1M"))
for name in ["mapping_unknown_layer", "mapping_not_linear", "mapping_k_tile", "mapping_rows",
             "mapping_too_big", "mapping_field", "mapping_buffer_sets", "mapping_dma_int",
             "mapping_dma_rows_outer", "mapping_residency_rows_outer", "mapping_residency_value"]:
    case(name, run("--mapping", f(f"{name}.json"),
                   workload="workloads/models/bitnet_b158_700m_layer_decode.json", hw=LLM)
         + ["--set", "hw.mac_array.pe=int8_int8"])
case("dump_timing_only_graph", run("--timing-only", "--dump", "/tmp/nmpsim-dump",
                                   workload="workloads/models/bitnet_b158_700m_layer_decode.json",
                                   hw=LLM) + ["--set", "hw.mac_array.pe=int8_int8"])
case("analytical_timeline", run("--analytical", "--timeline", "/tmp/nmpsim-timeline.json"))
case("analytical_lockstep", run("--analytical", "--lockstep"))

# --- the command line -------------------------------------------------------------------------
for name, extra in [("max_cycles_negative", ["--max-cycles", "-1"]),
                    ("max_cycles_word", ["--max-cycles", "many"]),
                    ("max_instructions_huge", ["--max-instructions", "99999999999999999999999"]),
                    ("max_memory_suffix", ["--max-memory", "4Q"]),
                    ("min_sqnr", ["--min-sqnr-db", "loud"]),
                    ("unknown_option", ["--fast"]),
                    ("option_twice", ["--out", "a.json", "--out", "b.json"])]:
    case(f"cli_{name}", run(*extra))
case("cli_no_command", [])
case("cli_exec_no_program", ["exec", "--hw", HW])
case("cli_exec_dram_negative", ["exec", "--hw", HW, f("asm_no_halt.s"), "--dram-bytes", "-1"])
case("cli_exec_dram_huge", ["exec", "--hw", HW, f("asm_no_halt.s"), "--dram-bytes", "2T"])
case("cli_exec_set_workload", ["exec", "--hw", HW, f("asm_no_halt.s"), "--set", "workload.tokens=2"])
case("cli_exec_directory", ["exec", "--hw", HW, "configs"])
case("cli_exec_imem", ["exec", "--hw", HW, f("asm_big.s"), "--set", "hw.controller.imem_kib=1"])
# --timeline: its window, sampling interval and file.
case("timeline_window_reversed", run("--timeline", "/tmp/nmpsim-unused.json", "--timeline-window", "500:200"))
case("timeline_window_empty", run("--timeline", "/tmp/nmpsim-unused.json", "--timeline-window", "7:7"))
case("timeline_window_word", run("--timeline", "/tmp/nmpsim-unused.json", "--timeline-window", "start:end"))
case("timeline_window_huge", run("--timeline", "/tmp/nmpsim-unused.json", "--timeline-window", "0:99999999999999999999"))
case("timeline_window_alone", run("--timeline-window", "0:100"))
case("timeline_interval_zero", run("--timeline", "/tmp/nmpsim-unused.json", "--timeline-interval", "0"))
case("timeline_unwritable", run("--timeline", "/nonexistent-dir/timeline.json"))
case("vcd_unwritable", run("--vcd", "/nonexistent-dir/waves.vcd"))
case("timeline_window_after_run", run("--timeline", "/tmp/nmpsim-after-run.json", "--vcd", "/tmp/nmpsim-after-run.vcd", "--timing-only", "--timeline-window", "100000000:"))
case("exec_timeline_window", ["exec", "--hw", HW, f("asm_no_halt.s"), "--timeline", "/tmp/nmpsim-unused.json", "--timeline-window", ":5"])
case("cli_sweep_shard", ["sweep", f("sweep_missing_hw.json"), "--shard", "3/2"])
case("cli_merge_one", ["merge", "/tmp/nmpsim-merged.sqlite"])
case("cli_merge_missing", ["merge", "/tmp/nmpsim-merged-missing.sqlite", "/tmp/nmpsim-no-such.sqlite"])
case("cli_compare_one", ["compare", f("report_not.json")])
case("cli_energy_nothing", ["energy"])
case("cli_formats_distribution", ["formats", "--distribution", "cauchy"])
case("cli_formats_list", ["formats", "--formats", "fp16,int99,posit<64,9>"])
case("cli_formats_count", ["formats", "--count", "-5"])
case("cli_formats_memory", ["formats", "--count", "100000000000", "--max-memory", "1G"])
case("cli_params_bad", ["params", "--hw", f("deep.json")])

# --- assembly and binary programs -------------------------------------------------------------
for name in ["asm_unknown", "asm_missing", "asm_register", "asm_register_huge", "asm_deep",
             "asm_overflow", "asm_negate_min", "asm_redefine", "asm_label_twice", "asm_directive",
             "asm_unknown_label", "asm_field"]:
    case(name, ["asm", f(f"{name}.s"), "-o", "/dev/null"])
case("exec_asm_error", ["exec", "--hw", HW, f("asm_unknown.s")])
for name in ["bin_magic", "bin_version", "bin_reserved", "bin_truncated", "bin_opcode", "bin_revision"]:
    case(name, ["disasm", f(f"{name}.bin")])
case("exec_bin_reserved", ["exec", "--hw", HW, f("bin_reserved.bin")])

# --- reports ----------------------------------------------------------------------------------
for name in ["report_not", "report_schema", "report_missing", "report_types"]:
    case(f"energy_{name}", ["energy", f(f"{name}.json")])
case("compare_report_types", ["compare", f("report_types.json"), f("report_missing.json")])
case("energy_deep", ["energy", f("deep.json")])
case("energy_directory", ["energy", "configs"])

# --- sweeps and suites ------------------------------------------------------------------------
for name in ["sweep_missing_hw", "sweep_long_path", "sweep_too_big", "sweep_empty",
             "sweep_grid_value", "sweep_range", "sweep_range_huge", "sweep_range_no_integer",
             "sweep_root", "sweep_unknown", "sweep_zip_lengths", "sweep_zip_alone", "sweep_zip_twice",
             "sweep_zip_root", "sweep_constraint_empty", "sweep_constraint_order"]:
    case(name, ["sweep", f(f"{name}.json"), "--db", "/tmp/nmpsim-bad-sweep.sqlite"])
for name in ["suite_variant", "suite_both", "suite_missing_baseline", "suite_bad_baseline",
             "suite_file_missing"]:
    case(name, ["regress", f(f"{name}.json")])

# --- DRAM standards and traces -----------------------------------------------------------------
for name, setting in [
    ("standard_unknown", "dram.standard=DDR9_1Gb"), ("standard_number", "dram.standard=4"),
    ("mapping_missing", "dram.address_mapping=ro,ba,bg,ch,co"),
    ("mapping_repeated", "dram.address_mapping=ro,ra,ba,bg,ch,co,ro"),
    ("mapping_unknown", "dram.address_mapping=ro,ra,ba,bg,ch,col"),
    ("ras_over_rc", "dram.timing.ras=100"), ("rcd_over_ras", "dram.timing.rcd_rd=60"),
    ("refi_under_rfc", "dram.timing.refi=300"), ("burst_zero", "dram.timing.burst_cycles=0"),
    ("rows_not_power", "dram.rows=1000"), ("channels_zero", "dram.channels=0"),
    ("width_mismatch", "dram.bus_width_bits=60"), ("page_policy", "dram.page_policy=adaptive"),
    ("queue_zero", "dram.queue_depth=0"), ("simple_field", "dram.latency_cycles=50"),
    ("currents_unsourced", "dram.power.idd0=50"), ("io_unsourced", "dram.power.io_pj_per_bit=2"),
    ("clock_fraction", "dram.timing.clock_mhz=1200.0001"),
]:
    case(f"dram_set_{name}", hw_set(setting))
case("dram_simple_field_unknown", hw_set("dram.standard=simple", "dram.address_mapping=ro,co"))
case("dram_simple_bandwidth", hw_set("dram.standard=simple", "dram.bytes_per_cycle=0"))
case("dram_simple_burst", hw_set("dram.standard=simple", "dram.burst_bytes=0"))
case("dram_workload_too_big", hw_set("dram.rows=1", "dram.columns=64"))
case("dram_exec_too_big", ["exec", "--hw", HW, f("asm_no_halt.s"), "--dram-bytes", "16G"])
for name in ["words", "address", "operation", "cycle", "order", "capacity", "huge"]:
    case(f"dram_trace_{name}", ["dram", "--hw", HW, f(f"trace_{name}.trace")])
case("dram_trace_simple", ["dram", "--hw", HW, "--set", "hw.dram.standard=simple",
                           f("trace_words.trace")])
case("dram_trace_missing", ["dram", "--hw", HW, f("no_such.trace")])

# --- the calculator ---------------------------------------------------------------------------
case("arith_format", ["arith", "--format", "fp17"], "add 1 2\n")
case("arith_operation", ["arith", "--format", "fp16"], "pow 2 3\n")
case("arith_operands", ["arith", "--format", "fp16"], "add 1\n")
case("arith_operand", ["arith", "--format", "fp16"], "add 1 two\n")
case("arith_pattern", ["arith", "--format", "fp16"], "add 0x10000 1\n")
case("arith_hex", ["arith", "--format", "bf16"], "add 0xzz 1\n")
case("arith_fdp_lengths", ["arith", "--format", "posit<8,0>"], "fdp 1,2,3 4,5\n")
case("arith_second_line", ["arith", "--format", "fixed<4,12>"], "add 1 2\nmul 1\n")


def write_inputs(folder):
    for name, content in INPUTS.items():
        path = pathlib.Path(folder) / name
        if isinstance(content, (dict, list)):
            path.write_text(json.dumps(content, indent=1) + "\n")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
