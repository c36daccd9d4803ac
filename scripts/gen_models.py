#!/usr/bin/python3
"""Writes the model library, workloads/models/*.json, from the published shapes.

Usage: scripts/gen_models.py

Sources (shared/reference/models.md): BitNet b1.58 family shapes from "The Era of 1-bit LLMs:
Training Tips, Code and FAQ" Table 1 (the LLaMA baselines have the same shapes); BitNet b1.58
2B4T from its technical report (arXiv 2504.12285) and model card; the speech models from the
posit study (seed 003). Each file's "source" field says which, and what is left out.

Decoder layers are graph models (docs/configs.md#graph-models): pre-norm, the q/k/v/o
projections, a residual, pre-norm, a gated FFN and a residual. Left out for now: the attention
products Q K^T and P V (the o projection reads q's output in their place), rotary embeddings,
the embedding lookup and the LM head (full precision in BitNet b1.58 too).
"""
import json
import zlib
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
out_dir = root / "workloads" / "models"

VOCAB = 32000  # LLaMA's vocabulary, which the BitNet b1.58 family shares
CONTEXT = 512  # KV positions of a decode step (the paper's sequence length is 2048)
FAMILY_SOURCE = ("BitNet b1.58 FAQ (microsoft/unilm bitnet/, 'Training Tips, Code and FAQ') "
                 "Table 1: hidden {h}, gated FFN {f}, {heads} heads, {layers} layers; LLaMA-alike "
                 "components (RMSNorm, SwiGLU) per Ma et al. 2024 (arXiv 2402.17764)")
OMITTED = ("; left out: attention products Q K^T and P V (o reads q's output), RoPE and "
           "the LM head")

FAMILY = {  # name: hidden, ffn, heads, layers
    "700m": (1536, 4096, 24, 24),
    "1.3b": (2048, 5460, 32, 24),
    "3b": (3200, 8640, 32, 26),
    "3.9b": (3200, 12800, 32, 26),
}


def linear(kind, name, n_in, n_out, inputs=None):
    layer = {"type": "bitlinear" if kind == "bitnet" else "linear", "name": name,
             "in_features": n_in, "out_features": n_out,
             "weights": {"distribution": "normal", "mean": 0, "std": 0.02,
                         "seed": zlib.crc32(name.encode()) % 100000}}
    if kind != "bitnet":
        layer["format"] = "fp16"
    if inputs:
        layer["inputs"] = inputs
    return layer


def decoder_layer(kind, p, h, f, kv, activation, sub_norms, first_input, attn=None):
    """One decoder layer's graph layers; p is the name prefix, first_input the layer input;
    attn: the attention layer's fields, or None to leave attention out (o reads q)."""
    L = []
    L.append({"type": "rmsnorm", "name": p + "attn_norm", "inputs": [first_input]})
    L.append(linear(kind, p + "q", h, h))
    L.append(linear(kind, p + "k", h, kv, [p + "attn_norm"]))
    L.append(linear(kind, p + "v", h, kv, [p + "attn_norm"]))
    o_in = p + "q"
    if attn:
        L.append(dict(attn, type="attention", name=p + "attn",
                      format="int8" if kind == "bitnet" else "fp16",
                      inputs=[p + "q", p + "k", p + "v"]))
        o_in = p + "attn"
    if sub_norms:
        L.append({"type": "rmsnorm", "name": p + "attn_sub_norm", "inputs": [o_in]})
        o_in = p + "attn_sub_norm"
    L.append(linear(kind, p + "o", h, h, [o_in]))
    L.append({"type": "add", "name": p + "attn_residual", "inputs": [p + "o", first_input]})
    L.append({"type": "rmsnorm", "name": p + "ffn_norm"})
    L.append(linear(kind, p + "gate", h, f))
    L.append(linear(kind, p + "up", h, f, [p + "ffn_norm"]))
    L.append({"type": "activation", "name": p + "act", "function": activation,
              "inputs": [p + "gate"]})
    L.append({"type": "mul", "name": p + "glu", "inputs": [p + "act", p + "up"]})
    down_in = None
    if sub_norms:
        L.append({"type": "rmsnorm", "name": p + "ffn_sub_norm"})
    L.append(linear(kind, p + "down", f, h, down_in))
    L.append({"type": "add", "name": p + "ffn_residual",
              "inputs": [p + "down", p + "attn_residual"]})
    return L


def model(name, source, kind, h, f, kv, layers, tokens, activation="silu", sub_norms=False,
          attn=None, vocab=None):
    """vocab: the whole model, from an embedding lookup of the token ids."""
    all_layers = []
    prev = "input"
    if vocab:
        all_layers.append({"type": "embedding", "name": "embed", "vocab": vocab,
                           "out_features": h,
                           "weights": {"distribution": "normal", "mean": 0, "std": 1, "seed": 7}})
        prev = "embed"
    for i in range(layers):
        prefix = f"l{i}." if layers > 1 else ""
        block = decoder_layer(kind, prefix, h, f, kv, activation, sub_norms, prev, attn)
        if i == 0 and not vocab:
            block[0]["in_features"] = h
        all_layers += block
        prev = block[-1]["name"]
    if layers > 1:
        all_layers.append({"type": "rmsnorm", "name": "final_norm"})
    m = {"name": name, "source": source, "tokens": tokens, "layers": all_layers}
    if not vocab:  # token ids default to uniform over the vocabulary
        m["input"] = {"distribution": "normal", "mean": 0, "std": 1, "seed": 1}
    return m


def write(name, m):
    (out_dir / f"{name}.json").write_text(json.dumps(m, indent=1) + "\n")
    print(name, len(m["layers"]), "layers")


def main():
    out_dir.mkdir(parents=True, exist_ok=True)
    for size, (h, f, heads, layers) in FAMILY.items():
        src = FAMILY_SOURCE.format(h=h, f=f, heads=heads, layers=layers)
        d = h // heads
        decode = {"heads": heads, "kv_heads": heads, "head_dim": d, "mode": "decode",
                  "context": CONTEXT - 1}
        prefill = {"heads": heads, "kv_heads": heads, "head_dim": d, "mode": "prefill",
                   "context": 0}
        # BitNet b1.58 with int8 attention (int8 PEs, the projections' ternary weights packed);
        # LLaMA with FP16 attention; both also without attention, for the like-for-like ratio on
        # a ternary array.
        b_src = src + ("; attention in int8 (int8 PEs with packed ternary weights; the int8 KV "
                       f"cache's static scales from its seeded context): decode over {CONTEXT} "
                       "positions, prefill of 128 tokens; left out: RoPE and the LM head")
        write(f"bitnet_b158_{size}_layer_decode",
              model(f"bitnet_b158-{size}-layer-decode", b_src, "bitnet", h, f, h, 1, 1,
                    attn=decode))
        write(f"bitnet_b158_{size}_layer_prefill128",
              model(f"bitnet_b158-{size}-layer-prefill128", b_src, "bitnet", h, f, h, 1, 128,
                    attn=prefill))
        write(f"bitnet_b158_{size}_decode",
              model(f"bitnet_b158-{size}-decode", b_src, "bitnet", h, f, h, layers, 1,
                    attn=decode, vocab=VOCAB))
        l_src = src + (f"; attention: decode over a {CONTEXT}-position FP16 KV cache, prefill of "
                       "128 tokens; left out: RoPE and the LM head")
        write(f"bitnet_b158_{size}_decode_no_attention",
              model(f"bitnet_b158-{size}-decode-no-attention", src + OMITTED, "bitnet", h, f, h,
                    layers, 1, vocab=VOCAB))
        write(f"llama_fp16_{size}_layer_decode",
              model(f"llama_fp16-{size}-layer-decode", l_src, "llama", h, f, h, 1, 1, attn=decode))
        write(f"llama_fp16_{size}_layer_prefill128",
              model(f"llama_fp16-{size}-layer-prefill128", l_src, "llama", h, f, h, 1, 128,
                    attn=prefill))
        write(f"llama_fp16_{size}_decode",
              model(f"llama_fp16-{size}-decode", l_src, "llama", h, f, h, layers, 1, attn=decode,
                    vocab=VOCAB))
        write(f"llama_fp16_{size}_decode_no_attention",
              model(f"llama_fp16-{size}-decode-no-attention", src + OMITTED, "llama", h, f, h,
                    layers, 1,
                    vocab=VOCAB))
    src_2b4t = ("BitNet b1.58 2B4T technical report (arXiv 2504.12285) and model card: hidden 2560, "
                "FFN 6912, 30 layers, 20 heads, 5 KV heads (head_dim 128), squared-ReLU gated FFN, "
                "sub-norms before Wo and W2; attention in int8 over a 512-position cache (int8 "
                "PEs, packed ternary weights); left out: RoPE and the LM head")
    gqa = {"heads": 20, "kv_heads": 5, "head_dim": 128}
    for tokens, suffix, mode, context in ((1, "layer_decode", "decode", CONTEXT - 1),
                                          (128, "layer_prefill128", "prefill", 0)):
        write(f"bitnet_b158_2b4t_{suffix}",
              model(f"bitnet-b158-2b4t-{suffix.replace('_', '-')}", src_2b4t, "bitnet", 2560, 6912,
                    640, 1, tokens, "squared_relu", True,
                    attn=dict(gqa, mode=mode, context=context)))
    write("bitnet_b158_2b4t_decode",
          model("bitnet-b158-2b4t-decode", src_2b4t, "bitnet", 2560, 6912, 640, 30, 1,
                "squared_relu", True, attn=dict(gqa, mode="decode", context=CONTEXT - 1),
                vocab=128256))
    # BERT-base: one post-LN encoder layer over a 128-token sequence, FP16.
    bert = [
        dict(linear("llama", "q", 768, 768), inputs=["input"]),
        linear("llama", "k", 768, 768, ["input"]),
        linear("llama", "v", 768, 768, ["input"]),
        {"type": "attention", "name": "attn", "heads": 12, "kv_heads": 12, "head_dim": 64,
         "mode": "prefill", "context": 0, "format": "fp16", "inputs": ["q", "k", "v"]},
        linear("llama", "o", 768, 768),
        {"type": "add", "name": "attn_residual", "inputs": ["o", "input"]},
        {"type": "layernorm", "name": "attn_norm", "eps_log2": 40},
        linear("llama", "up", 768, 3072),
        {"type": "activation", "name": "gelu", "function": "gelu"},
        linear("llama", "down", 3072, 768),
        {"type": "add", "name": "ffn_residual", "inputs": ["down", "attn_norm"]},
        {"type": "layernorm", "name": "ffn_norm", "eps_log2": 40}]
    bert[0]["in_features"] = 768
    write("bert_base_layer_seq128", {
        "name": "bert-base-layer-seq128",
        "source": ("BERT-base (Devlin et al. 2019): hidden 768, 12 heads of 64, FFN 3072, GELU, "
                   "post-LayerNorm (shared/reference/models.md); one encoder layer over 128 "
                   "tokens in FP16; left out: the projections' biases, the embeddings; eps 2^-40 "
                   "for BERT's 1e-12"),
        "tokens": 128, "input": {"distribution": "normal", "mean": 0, "std": 1, "seed": 1},
        "layers": bert})
    speech = ("posit study (seed 003): speech model {n}; assumption: 80 log-mel input features "
              "and 100 frames (1 s), which the seed does not state; weights uniform in "
              "[-{w}, {w}] as the seed's; the decoder (MLP attention, 512 units) is left out")
    src = lambda n, w: speech.format(n=n, w=w)
    uniform = lambda w, seed: {"distribution": "uniform", "low": -w, "high": w, "seed": seed}
    write("speech_gru_4x1024", {
        "name": "speech-gru-4x1024", "source": src("1: a 4-layer bidirectional GRU of 1024 "
                                                   "(512 per direction)", 2.5),
        "tokens": 100, "input": {"distribution": "uniform", "low": -1, "high": 1, "seed": 1},
        "layers": [{"type": "gru", "name": f"gru{i}", "in_features": 80 if i == 0 else 1024,
                    "hidden": 512, "bidirectional": True, "format": "posit8_0",
                    "weights": uniform(2.5, 10 + i), "biases": uniform(2.5, 20 + i)}
                   for i in range(4)]})
    write("speech_lstm_5x800", {
        "name": "speech-lstm-5x800", "source": src("2: a 5-layer unidirectional LSTM of 800", 2),
        "tokens": 100, "input": {"distribution": "uniform", "low": -1, "high": 1, "seed": 1},
        "layers": [{"type": "lstm", "name": f"lstm{i}", "in_features": 80 if i == 0 else 800,
                    "hidden": 800, "format": "posit8_0",
                    "weights": uniform(2, 10 + i), "biases": uniform(2, 20 + i)}
                   for i in range(5)]})


if __name__ == "__main__":
    main()
