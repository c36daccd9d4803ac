#!/usr/bin/python3
"""Checks a tensor dump (nmpsim run --dump DIR) with numpy, apart from nmpsim's own code.

Every layer's FP32 model is recomputed here from the dumped latent tensors (float64 numpy:
BitLinear from the ternary weights x gamma, linear from the float weights, LSTM and GRU from W, U
and the biases, attention as softmax(Q K^T / sqrt(d)) V), chained from the dumped FP32 input, and
must agree with the FP32 reference nmpsim dumped (to 1e-4 relative). The dumped output
patterns must decode to the dumped output values bit for bit (fp32, fp16 and bf16 outputs, decoded
here). A step loop's layers run step by step, as the machine runs them (an input-fed decoder).
Each layer prints the error of nmpsim's output values against the numpy model. Exit code 1
if any output or reference differs. (The bit-exact check of every output against the exact model
of the hardware is nmpsim's own reference, run by every `nmpsim run`.)
"""
import json
import math
import pathlib
import sys

import numpy as np


def decode(patterns, fmt):
    """Output patterns as float64, for the formats numpy decodes itself; None for others."""
    if fmt == "fp32":
        return patterns.astype(np.uint32).view(np.float32).astype(np.float64)
    if fmt == "fp16":
        return patterns.astype(np.uint16).view(np.float16).astype(np.float64)
    if fmt == "bf16":
        return (patterns.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return None


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def recurrent(layer, stem, x):
    """FP32 model of an LSTM or GRU layer (gates i, f, g, o / r, z, n), all directions."""
    T, H = x.shape[0], layer["hidden"]
    out = np.zeros((T, H * layer["directions"]))
    for d in range(layer["directions"]):
        w = np.load(f"{stem}_d{d}_w_f32.npy").astype(np.float64)
        u = np.load(f"{stem}_d{d}_u_f32.npy").astype(np.float64)
        b_ih = np.load(f"{stem}_d{d}_b_ih.npy").astype(np.float64)
        b_hh = np.load(f"{stem}_d{d}_b_hh.npy").astype(np.float64)
        h, c = np.zeros(H), np.zeros(H)
        for s in range(T):
            t = T - 1 - s if d == 1 else s
            gx, gh = w @ x[t] + b_ih, u @ h + b_hh
            if layer["type"] == "lstm":
                g = gx + gh
                i, f, gg, o = sigmoid(g[:H]), sigmoid(g[H:2 * H]), np.tanh(g[2 * H:3 * H]), sigmoid(g[3 * H:])
                c = f * c + i * gg
                h = o * np.tanh(c)
            else:
                r = sigmoid(gx[:H] + gh[:H])
                z = sigmoid(gx[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gx[2 * H:] + r * gh[2 * H:])
                h = (1 - z) * n + z * h
            out[t, d * H:(d + 1) * H] = h
    return out


def attention(layer, stem, x, new_kv=None):
    """FP32 model: per token and head, softmax over the visible positions of q k / sqrt(d) (q k
    unscaled: Luong's general score), times v.
    Reading q, k and v, the tokens' own keys and values (new_kv) follow the cached context."""
    heads, kv_heads, d = layer["heads"], layer["kv_heads"], layer["head_dim"]
    k = np.load(stem + "_keys_f32.npy").astype(np.float64)
    v = np.load(stem + "_values_f32.npy").astype(np.float64)
    T, L = x.shape[0], layer["positions"]
    if new_kv is not None:  # the tokens' keys and values after the context, or cross's memory
        n = new_kv[0].shape[0]
        c = 0 if layer["mode"] == "cross" else layer["context"]
        k[:, c:c + n] = new_kv[0].reshape(n, kv_heads, d).transpose(1, 0, 2)
        v[:, c:c + n] = new_kv[1].reshape(n, kv_heads, d).transpose(1, 0, 2)
    q = x.reshape(T, heads, d)
    out = np.zeros((T, heads, d))
    for t in range(T):
        visible = layer["context"] + t + 1 if layer["mode"] == "prefill" else L
        for h in range(heads):
            g = h // (heads // kv_heads)
            s = k[g, :visible] @ q[t, h] / (np.sqrt(d) if layer["scaled"] else 1.0)
            p = np.exp(s - s.max())
            out[t, h] = (p / p.sum()) @ v[g, :visible]
    return out.reshape(T, heads * d)


ACTIVATIONS = {
    "sigmoid": sigmoid, "tanh": np.tanh, "exp": np.exp,
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "silu": lambda x: x * sigmoid(x), "squared_relu": lambda x: np.maximum(x, 0) ** 2,
    "reciprocal": lambda x: 1 / x, "rsqrt": lambda x: 1 / np.sqrt(x)}


def graph_layer(layer, stem, xs):
    """FP32 model of a graph model's embedding, rmsnorm, layernorm, activation, mlp_attention,
    rope, pool, concat, add and mul layers."""
    kind, x = layer["type"], xs[0]
    if kind == "embedding":
        return np.load(stem + "_table_f32.npy").astype(np.float64)[x[:, 0].astype(np.int64)]
    if kind == "rmsnorm":
        g = np.load(stem + "_gain_f32.npy").astype(np.float64)
        eps = 2.0 ** -layer["eps_log2"]
        return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * g
    if kind == "layernorm":
        g = np.load(stem + "_gain_f32.npy").astype(np.float64)
        b = np.load(stem + "_bias_f32.npy").astype(np.float64)
        c = x - x.mean(axis=1, keepdims=True)
        return c / np.sqrt((c * c).mean(axis=1, keepdims=True) + 2.0 ** -layer["eps_log2"]) * g + b
    if kind == "activation":
        return ACTIVATIONS[layer["function"]](x)
    if kind == "mlp_attention":  # softmax over positions of v . tanh(K'_s + q), times M
        if len(xs) == 3:  # the memory from the graph
            keys, memory = xs[1], xs[2]
        else:
            keys = np.load(stem + "_keys_f32.npy").astype(np.float64)
            memory = np.load(stem + "_memory_f32.npy").astype(np.float64)
        v = np.load(stem + "_v_f32.npy").astype(np.float64)
        scores = np.tanh(keys[None, :, :] + x[:, None, :]) @ v
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)) @ memory
    if kind == "rope":  # rotate_half: each head's halves (x1, x2) by (context + row) theta^(-2i/d)
        rows, heads = x.shape[0], layer["heads"]
        d = x.shape[1] // heads
        pos = layer["context"] + np.arange(rows)[:, None]
        angle = pos * layer["theta"] ** (-2.0 * np.arange(d // 2) / d)
        c, s = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
        h = x.reshape(rows, heads, d)
        x1, x2 = h[..., : d // 2], h[..., d // 2:]
        return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=2).reshape(rows, -1)
    if kind == "pool":  # groups of `stride` rows (a remainder dropped) to their max or mean
        s = layer["stride"]
        groups = x[: layer["rows"] * s].reshape(layer["rows"], s, -1)
        return groups.max(axis=1) if layer["op"] == "max" else groups.mean(axis=1)
    if kind == "concat":
        return np.concatenate([x, xs[1]], axis=1)
    return x + xs[1] if kind == "add" else x * xs[1]


def model_layer(layer, stem, xs):
    """The numpy FP32 model of one layer from its inputs xs."""
    kind, x_fp = layer["type"], xs[0]
    if kind in ("bitlinear", "linear"):
        if kind == "bitlinear":
            w_int = np.load(stem + "_weights_ternary.npy").astype(np.int64)
            w_fp = w_int * float(np.load(stem + "_gamma.npy")[0])
        else:
            w_fp = np.load(stem + "_weights_f32.npy").astype(np.float64)
        ref = x_fp @ w_fp.T
        if pathlib.Path(stem + "_bias_f32.npy").exists():
            ref = ref + np.load(stem + "_bias_f32.npy").astype(np.float64)
        return ref
    if kind in ("lstm", "gru"):
        return recurrent(layer, stem, x_fp)
    if kind == "attention":
        return attention(layer, stem, x_fp, None if len(xs) == 1 else (xs[1], xs[-1]))
    return graph_layer(layer, stem, xs)


def memory_input(layer, j):
    """Input j of attention over a memory after q: read whole at every step."""
    cross = layer["type"] == "attention" and layer.get("mode") == "cross"
    return j > 0 and (cross or layer["type"] == "mlp_attention")


def step_loop(manifest, d, outputs, model_inputs):
    """A step loop's layers step by step: each over its row t (a recurrent one over rows 0..t,
    the last kept), a carried input its layer's row t - 1 (zeros at step 0), a memory whole."""
    begin, end = manifest["step_loop"]["begin"], manifest["step_loop"]["end"]
    layers = manifest["layers"]
    rows = {li: [] for li in range(begin, end)}

    def tensor(ref):
        if ref < 0:
            return model_inputs[-1 - ref]
        return np.array(rows[ref]) if ref in rows else outputs[ref]

    for t in range(layers[begin]["rows"]):
        for li in range(begin, end):
            layer = layers[li]
            first = 0 if layer["type"] in ("lstm", "gru") else t
            xs = []
            for j, ref in enumerate(layer["inputs"]):
                if memory_input(layer, j):
                    xs.append(tensor(ref))
                    continue
                if layer["carried"][j]:
                    width = layers[ref]["out_features"]
                    past = [np.zeros(width)] + rows[ref][:t]
                    xs.append(np.array(past[first:t + 1]))
                else:
                    xs.append(tensor(ref)[first:t + 1])
            rows[li].append(model_layer(layer, str(d / layer["stem"]), xs)[-1])
    return {li: np.array(r) for li, r in rows.items()}


def main(directory):
    d = pathlib.Path(directory)
    manifest = json.loads((d / "model.json").read_text())
    model_inputs = [np.load(d / i["file"]).astype(np.float64) for i in manifest["inputs"]]
    outputs = []
    looped = {}
    bad = 0
    for li, layer in enumerate(manifest["layers"]):
        stem = str(d / layer["stem"])
        kind = layer["type"]
        line = f"{layer['stem']} ({kind})"
        if "step_loop" in manifest and li == manifest["step_loop"]["begin"]:
            looped = step_loop(manifest, d, outputs, model_inputs)
        if li in looped:
            ref = looped[li]
        else:
            # the outputs it names; model input i is -1 - i
            xs = [model_inputs[-1 - i] if i < 0 else outputs[i] for i in layer["inputs"]]
            ref = model_layer(layer, stem, xs)
        dumped_ref = pathlib.Path(stem + "_reference_fp32.npy")
        if dumped_ref.exists():
            r = np.load(dumped_ref).astype(np.float64)
            gap = float(np.abs(r - ref).max())
            ok = gap <= 1e-4 * max(1.0, float(np.abs(ref).max()))
            bad += 0 if ok else 1
            line += f"; FP32 model vs nmpsim's: max gap {gap:.3g}{'' if ok else ' (DIFFERS)'}"
        values = pathlib.Path(stem + "_output_values.npy")
        if values.exists():
            v = np.load(values).astype(np.float64)
            decoded = decode(np.load(stem + "_output_q.npy"), manifest["output_format"])
            if decoded is not None:
                diff = int((decoded != v).sum())
                bad += diff
                line += f": {v.size} outputs, {diff} differ from their patterns"
            e = v - ref
            line += f"; vs FP32: max abs {np.abs(e).max():.6g}, rmse {np.sqrt((e * e).mean()):.6g}"
        print(line)
        outputs.append(ref)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/check_dump.py DUMP_DIR")
    main(sys.argv[1])
