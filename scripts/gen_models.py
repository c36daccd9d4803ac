#!/usr/bin/python3
"""Writes the model library, workloads/models/*.json, from the published shapes.

Usage: scripts/gen_models.py

Sources (shared/reference/models.md): BitNet b1.58 family shapes from "The Era of 1-bit LLMs:
Training Tips, Code and FAQ" Table 1 (the LLaMA baselines have the same shapes); BitNet b1.58
2B4T from its technical report (arXiv 2504.12285) and model card; the speech models from the
posit study (seed 003). Each file's "source" field says which, and what is left out.

Decoder layers are graph models (docs/configs.md#graph-models): pre-norm, the q/k/v
projections, rotary embeddings of q and k, attention, the o projection, a residual, pre-norm, a
gated FFN and a residual; whole-model decodes add the embedding lookup, the final norm and the
LM head. The _no_attention variants leave out attention and RoPE (o reads q's output) and the
LM head, so they run on a ternary array.
"""
import json
import zlib
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
out_dir = root / "workloads" / "models"

VOCAB = 32000  # LLaMA's vocabulary, which the BitNet b1.58 family shares
ROPE_THETA = 10000  # LLaMA's rotary base
CONTEXT = 512  # KV positions of a decode step (the paper's sequence length is 2048)
FAMILY_SOURCE = ("BitNet b1.58 FAQ (microsoft/unilm bitnet/, 'Training Tips, Code and FAQ') "
                 "Table 1: hidden {h}, gated FFN {f}, {heads} heads, {layers} layers; LLaMA-alike "
                 "components (RMSNorm, SwiGLU) per Ma et al. 2024 (arXiv 2402.17764)")
OMITTED = ("; left out: attention products Q K^T and P V (o reads q's output), RoPE and "
           "the LM head (which a ternary array cannot run)")

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
        # Rotary embeddings of q and k at the tokens' positions (the cache's keys are stored
        # rotated), then attention.
        theta = attn.get("theta", ROPE_THETA)
        fields = {k: v for k, v in attn.items() if k != "theta"}
        for name, heads in (("q", attn["heads"]), ("k", attn["kv_heads"])):
            L.append({"type": "rope", "name": p + name + "_rope", "heads": heads,
                      "context": attn["context"], "theta": theta, "inputs": [p + name]})
        L.append(dict(fields, type="attention", name=p + "attn",
                      format="int8" if kind == "bitnet" else "fp16",
                      inputs=[p + "q_rope", p + "k_rope", p + "v"]))
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
    if vocab and attn:
        # The LM head: FP16 for LLaMA; BitNet b1.58 keeps it in full precision, which the int8
        # array that runs its attention cannot: int8 here (a ternary array, without attention,
        # cannot run it at all).
        # A linear layer keeps whole output rows on chip: a vocabulary over 32,768 is split
        # into column blocks, each a layer reading the final norm.
        parts = -(-vocab // 32768)
        for i in range(parts):
            head_name = "lm_head" if parts == 1 else f"lm_head{i}"
            head = linear("llama", head_name, h, vocab // parts + (i < vocab % parts),
                          ["final_norm"])
            head["format"] = "int8" if kind == "bitnet" else "fp16"
            all_layers.append(head)
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
                       "positions, prefill of 128 tokens; RoPE theta 10000 (LLaMA's); whole "
                       "models: the LM head in int8 (full precision in BitNet b1.58, which int8 "
                       "PEs cannot run)")
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
                       "128 tokens; RoPE theta 10000 (LLaMA's); whole models: the FP16 LM head")
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
                "sub-norms before Wo and W2, RoPE theta 500000; attention in int8 over a "
                "512-position cache (int8 PEs, packed ternary weights); whole model: the LM head "
                "(untied) in int8 (full precision in 2B4T, which int8 PEs cannot run), in 4 blocks "
                "of 32,064 logits")
    gqa = {"heads": 20, "kv_heads": 5, "head_dim": 128, "theta": 500000}
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
         "mode": "encoder", "context": 0, "format": "fp16", "inputs": ["q", "k", "v"]},
        linear("llama", "o", 768, 768),
        {"type": "add", "name": "attn_residual", "inputs": ["o", "input"]},
        {"type": "layernorm", "name": "attn_norm", "eps_log2": 40},
        linear("llama", "up", 768, 3072),
        {"type": "activation", "name": "gelu", "function": "gelu"},
        linear("llama", "down", 3072, 768),
        {"type": "add", "name": "ffn_residual", "inputs": ["down", "attn_norm"]},
        {"type": "layernorm", "name": "ffn_norm", "eps_log2": 40}]
    bert[0]["in_features"] = 768
    for layer in bert:  # BERT's projections have biases
        if layer["type"] == "linear":
            layer["biases"] = {"distribution": "normal", "mean": 0, "std": 0.02,
                               "seed": zlib.crc32(("b" + layer["name"]).encode()) % 100000}
    write("bert_base_layer_seq128", {
        "name": "bert-base-layer-seq128",
        "source": ("BERT-base (Devlin et al. 2019): hidden 768, 12 heads of 64, FFN 3072, GELU, "
                   "post-LayerNorm (shared/reference/models.md); one encoder layer over 128 "
                   "tokens in FP16 (bidirectional self-attention: no mask), with the projections' "
                   "biases; left out: the embeddings; eps 2^-40 for BERT's 1e-12"),
        "tokens": 128, "input": {"distribution": "normal", "mean": 0, "std": 1, "seed": 1},
        "layers": bert})
    speech_models()


# The posit study's speech models (seed 003), each as an encoder over an utterance and a decoder
# over its transcript. Shapes from the seed; what it does not state is assumed, and said so.
FRAMES = 100      # assumed: 1 s of 10 ms frames
FEATURES = 80     # assumed: 80 log-mel features per frame
TARGET = 16       # assumed: a 16-character transcript
CHARS = 32        # assumed: a character vocabulary (26 letters, space, apostrophe, end marks)
SPEECH = ("posit study (seed 003): speech model {n}; assumed, which the seed does not state: "
          f"{FEATURES} log-mel features, {FRAMES} frames (1 s), {{assumed}}; posit<8,0> products; "
          "untrained weights drawn as PyTorch initializes them (nn.GRU, nn.LSTM: U(-k, k), k = "
          "1/sqrt(hidden); nn.Linear: k = 1/sqrt(in_features); nn.Embedding: N(0, 1)), where "
          "the seed's trained weights span [-{w}, {w}]")
TEACHER_FORCED = (f"; the decoder runs teacher-forced over a {TARGET}-character transcript "
                  f"({CHARS} characters assumed), layer by layer: without OpenNMT's input "
                  "feeding (the previous step's attentional vector as input), which a "
                  "layer-by-layer graph cannot chain; ")
DECODER = (TEACHER_FORCED + "its memory holds seeded stand-ins for the encoder's outputs (the "
           "encoder is its own workload); the projections' biases are left out")
WHOLE = (f"; the decoder runs teacher-forced over a {TARGET}-character transcript ({CHARS} "
         "characters assumed) with OpenNMT's input feeding: a step loop, each step's input the "
         "character's embedding and the previous step's attentional vector (zeros at the first); "
         "its memory is the encoder's output in the same graph (model input \"input\": the "
         "frames; \"characters\": the transcript's ids); the projections' biases are left out")


def speech_models():
    uniform = lambda w, seed: {"distribution": "uniform", "low": -w, "high": w, "seed": seed}
    pytorch_init = lambda fan, seed: uniform(round(fan ** -0.5, 6), seed)
    embedding = lambda seed: {"distribution": "normal", "mean": 0, "std": 1, "seed": seed}
    memory = uniform(1, 50)  # stand-ins for encoder outputs (GRU/LSTM outputs lie in (-1, 1))

    def rnn(kind, name, inputs, hidden, seed, bidirectional=False):
        return {"type": kind, "name": name, "in_features": inputs, "hidden": hidden,
                "bidirectional": bidirectional, "format": "posit8_0",
                "weights": pytorch_init(hidden, seed), "biases": pytorch_init(hidden, seed + 100)}

    def lin(name, inputs, outputs, seed, wiring=None):
        layer = {"type": "linear", "name": name, "format": "posit8_0", "in_features": inputs,
                 "out_features": outputs, "weights": pytorch_init(inputs, seed)}
        if wiring:
            layer["inputs"] = wiring
        return layer

    def decoder_tail(memory_width, state):
        # h~ = tanh(W_c [c; h]) = tanh(W_cc c + W_ch h), then the character logits.
        return [lin("context_out", memory_width, 512, 40),
                lin("state_out", 512, 512, 41, [state]),
                {"type": "add", "name": "combine", "inputs": ["context_out", "state_out"]},
                {"type": "activation", "name": "attentional", "function": "tanh"},
                lin("generator", 512, CHARS, 42)]

    # Model 1: 4 bidirectional GRU layers of 1024 (512 per direction), 2 poolings; one GRU
    # decoder of 512 with MLP (additive) attention.
    enc1 = [rnn("gru", "gru0", FEATURES, 512, 10, True),
            {"type": "pool", "name": "pool0", "stride": 2},
            rnn("gru", "gru1", 1024, 512, 11, True),
            {"type": "pool", "name": "pool1", "stride": 2},
            rnn("gru", "gru2", 1024, 512, 12, True),
            rnn("gru", "gru3", 1024, 512, 13, True),
            lin("attention_keys", 1024, 512, 14)]
    write("speech_gru_4x1024", {
        "name": "speech-gru-4x1024",
        "source": SPEECH.format(n="1, encoder: 4 bidirectional GRU layers of 1024 (512 per "
                                  "direction), 2 downsampling poolings (max over 2 frames)",
                                w=2.5, assumed="the poolings after layers 0 and 1") +
                  "; the last layer projects the memory to the decoder's attention keys "
                  "(W_m M, once per utterance)",
        "tokens": FRAMES, "input": uniform(1, 1), "layers": enc1})
    positions1 = FRAMES // 4
    dec1 = [{"type": "embedding", "name": "embed", "vocab": CHARS, "out_features": 512,
             "weights": embedding(30)},
            rnn("gru", "decoder", 512, 512, 31),
            lin("attention_query", 512, 512, 32),
            {"type": "mlp_attention", "name": "attention", "context": positions1,
             "out_features": 1024, "weights": memory}] + decoder_tail(1024, "decoder")
    write("speech_gru_4x1024_decoder", {
        "name": "speech-gru-4x1024-decoder",
        "source": SPEECH.format(n="1, decoder: 1 GRU of 512 with MLP attention over the "
                                  f"encoder's {positions1} pooled frames of 1024",
                                w=2.5, assumed="the attention's dimension 512") + DECODER,
        "tokens": TARGET, "layers": dec1})
    # The whole model: the decoder's embedding reads the characters, its attention the
    # encoder's projected keys (attention_keys) and memory (gru3).
    # Input feeding: the decoder's input is [embedding; the previous attentional vector].
    feed = {"type": "concat", "name": "input_feed", "inputs": ["embed", "feed"]}
    carried = {"feed": {"from": "attentional", "width": 512}}
    whole1 = [dict(dec1[0], inputs=["characters"]), feed, rnn("gru", "decoder", 1024, 512, 31),
              dec1[2], {"type": "mlp_attention", "name": "attention",
                        "inputs": ["attention_query", "attention_keys", "gru3"],
                        "weights": memory}] + dec1[4:]
    write("speech_gru_4x1024_whole", {
        "name": "speech-gru-4x1024-whole",
        "source": SPEECH.format(n="1, whole: the encoder (4 bidirectional GRU layers of 1024, "
                                  "2 poolings) and the decoder (1 GRU of 512 with MLP attention "
                                  f"over the encoder's {positions1} pooled frames)",
                                w=2.5, assumed="the poolings after layers 0 and 1, the "
                                               "attention's dimension 512") + WHOLE,
        "tokens": FRAMES, "input": uniform(1, 1),
        "inputs": {"characters": {"tokens": TARGET}},
        "step_loop": {"first": "input_feed", "last": "attentional", "carried": carried},
        "layers": enc1 + whole1})

    # Model 2: 5 LSTM layers of 800, 4 poolings; a 2-layer LSTM decoder of 512 with general
    # (Luong) attention: score h^T W_a m, no scaling, the memory as both keys and values.
    enc2 = [rnn("lstm", "lstm0", FEATURES, 800, 10)]
    for i in range(1, 5):
        enc2 += [{"type": "pool", "name": f"pool{i - 1}", "stride": 2},
                 rnn("lstm", f"lstm{i}", 800, 800, 10 + i)]
    write("speech_lstm_5x800", {
        "name": "speech-lstm-5x800",
        "source": SPEECH.format(n="2, encoder: 5 LSTM layers of 800, 4 downsampling poolings "
                                  "(max over 2 frames)",
                                w=2, assumed="a pooling between each two layers"),
        "tokens": FRAMES, "input": uniform(1, 1), "layers": enc2})
    positions2 = FRAMES // 16
    dec2 = [{"type": "embedding", "name": "embed", "vocab": CHARS, "out_features": 512,
             "weights": embedding(30)},
            rnn("lstm", "decoder0", 512, 512, 31),
            rnn("lstm", "decoder1", 512, 512, 32),
            lin("attention_query", 512, 800, 33),
            {"type": "attention", "name": "attention", "mode": "cross", "heads": 1,
             "kv_heads": 1, "head_dim": 800, "context": positions2, "scaled": False,
             "shared_kv": True, "format": "posit8_0", "weights": memory}] + \
        decoder_tail(800, "decoder1")
    write("speech_lstm_5x800_decoder", {
        "name": "speech-lstm-5x800-decoder",
        "source": SPEECH.format(n="2, decoder: 2 LSTM layers of 512 with general attention "
                                  f"(h^T W_a m) over the encoder's {positions2} pooled frames "
                                  "of 800",
                                w=2, assumed=f"the memory's {positions2} positions (the "
                                             "frames after 4 poolings)") + DECODER,
        "tokens": TARGET, "layers": dec2})
    # The whole model: the decoder's attention reads the encoder's last layer as its memory.
    attention2 = {k: v for k, v in dec2[4].items() if k not in ("context", "weights")}
    whole2 = [dict(dec2[0], inputs=["characters"]), feed, rnn("lstm", "decoder0", 1024, 512, 31),
              dec2[2], dec2[3], dict(attention2, inputs=["attention_query", "lstm4"])] + dec2[5:]
    write("speech_lstm_5x800_whole", {
        "name": "speech-lstm-5x800-whole",
        "source": SPEECH.format(n="2, whole: the encoder (5 LSTM layers of 800, 4 poolings) and "
                                  "the decoder (2 LSTM layers of 512 with general attention, "
                                  f"h^T W_a m, over the encoder's {positions2} pooled frames)",
                                w=2, assumed="a pooling between each two layers") + WHOLE,
        "tokens": FRAMES, "input": uniform(1, 1),
        "inputs": {"characters": {"tokens": TARGET}},
        "step_loop": {"first": "input_feed", "last": "attentional", "carried": carried},
        "layers": enc2 + whole2})

if __name__ == "__main__":
    main()
