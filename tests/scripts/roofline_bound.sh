#!/usr/bin/env bash
# scripts/roofline.py's DRAM bound with the SRAMs: the reads a 256 KiB accumulator SRAM forces
# on a linear layer, against cases worked by hand, and its PE table as parsed from
# hw_models/pe.hpp.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 - "$root" <<'PY'
import sys
sys.path.insert(0, sys.argv[1] + "/scripts")
import roofline

pe = roofline.pe_bytes()
assert pe["ternary_int8"] == (1, 4) and pe["fp16"] == (2, 4), pe
assert pe["posit8_0"] == (1, 8) and pe["posit16_1"] == (2, 16), pe  # a name with a comma
hw = {"acc_sram": {"capacity_kib": 256}}


def linear(m, n, k, stored=2):
    return {"mapping": {"loop_order": "weights_outer"}, "shape": {"m": m, "n": n, "k": k},
            "weight_bytes": n * k * 2, "output_in_dram": {"element_bytes": stored}}


def reads(layers, kind):
    return roofline.sram_forced_reads({"layers": layers}, hw, kind)


# 128 rows: sums of 512 outputs fit (128 x 512 x 4 bytes), so a 2048-wide layer reads its
# 128 x 2048 input 4 times, 3 beyond the first: 2 bytes each for fp16, 1 for int8 rows.
assert reads([linear(128, 2048, 2048)], "fp16") == 3 * 128 * 2048 * 2
assert reads([linear(128, 2048, 2048)], "int8_int8") == 3 * 128 * 2048 * 1
# posit<8,0>'s 8-byte quire: blocks of 256, 8 reads of the input.
assert reads([linear(128, 2048, 2048)], "posit8_0") == 7 * 128 * 2048 * 1
# A decode row: every sum fits, nothing is read twice.
assert reads([linear(1, 2048, 2048)], "fp16") == 0
# 1024 rows, 4096 outputs, 64 inputs (weights 512 KiB, input 128 KiB): fewest at super tiles
# of 256 rows (blocks of 256 outputs): 3 more reads of the weights, 15 of the input.
assert reads([linear(1024, 4096, 64)], "fp16") == 3 * 4096 * 64 * 2 + 15 * 1024 * 64 * 2
# A vector layer adds nothing; a fused layer's host stores no output of its own.
vector = {"mapping": None, "shape": {"m": 128, "n": 64, "k": 64}, "output_in_dram": None}
assert reads([vector, linear(128, 2048, 2048)], "fp16") == 3 * 128 * 2048 * 2
print("roofline bound: ok")
PY
