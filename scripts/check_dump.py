#!/usr/bin/python3
"""Checks a tensor dump (nmpsim run --dump DIR) with numpy, apart from nmpsim's own code.

For each layer it recomputes the int32 accumulators from the dumped int8 inputs and ternary
weights, requantizes them with the formula of docs/isa.md (requant), and compares the int8
outputs and per-token absmax with the dumped ones; then it reports the error of the dequantized
outputs against the dumped FP32 reference. Exit code 1 if any output differs.
"""
import pathlib
import sys

import numpy as np


def requantize(acc):
    a = np.abs(acc).max(axis=1)
    q = np.zeros(acc.shape, dtype=np.int64)
    for row in range(acc.shape[0]):
        if a[row] == 0:
            continue
        s = int(a[row]).bit_length() - 1 + 24
        r = (127 << s) // int(a[row])
        q[row] = (acc[row] * r + (1 << (s - 1))) >> s  # numpy >> on int64 floors
    return q, a


def main(directory):
    d = pathlib.Path(directory)
    x = np.load(d / "input_q.npy").astype(np.int64)
    bad = 0
    layer = 0
    while True:
        stems = sorted(d.glob(f"{layer}_*_weights_ternary.npy"))
        if not stems:
            break
        stem = str(stems[0])[: -len("_weights_ternary.npy")]
        w = np.load(stem + "_weights_ternary.npy").astype(np.int64)
        acc = (x @ w.T).astype(np.int32).astype(np.int64)  # int32 wrap-around
        q, a = requantize(acc)
        q_sim = np.load(stem + "_output_q.npy").astype(np.int64)
        a_sim = np.load(stem + "_output_absmax.npy").astype(np.int64)
        diff = int((q != q_sim).sum() + (a != a_sim).sum())
        bad += diff
        line = f"{pathlib.Path(stem).name}: {q.size} outputs, {diff} differences"
        ref = pathlib.Path(stem + "_reference_fp32.npy")
        deq = pathlib.Path(stem + "_output_dequant.npy")
        if ref.exists() and deq.exists():
            e = np.load(deq).astype(np.float64) - np.load(ref).astype(np.float64)
            line += f"; vs FP32: max abs {np.abs(e).max():.6g}, rmse {np.sqrt((e * e).mean()):.6g}"
        print(line)
        x = q_sim
        layer += 1
    if layer == 0:
        sys.exit(f"{directory}: no layers found")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/check_dump.py DUMP_DIR")
    main(sys.argv[1])
