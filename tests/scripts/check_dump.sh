#!/usr/bin/env bash
# Dumped tensors checked by an independent numpy implementation (scripts/check_dump.py) for
# every layer kind: every layer's FP32 model recomputed, every output pattern decoded to its
# dumped value, and the error numpy measures of nmpsim's outputs equal to the error in nmpsim's
# own report.
set -euo pipefail
nmpsim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hw="$root/configs/hw/default.json"

check() {  # name, workload JSON, extra nmpsim arguments...
  local name=$1 workload=$2
  shift 2
  echo "$workload" > "$tmp/$name.json"
  "$nmpsim" run --hw "$hw" --workload "$tmp/$name.json" --out "$tmp/$name.report.json" \
    --dump "$tmp/$name" --quiet "$@"
  /usr/bin/python3 "$root/scripts/check_dump.py" "$tmp/$name" > "$tmp/$name.check"
  cat "$tmp/$name.check"
  /usr/bin/python3 - "$tmp/$name.report.json" "$tmp/$name.check" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
assert len(lines) == len(report["error"]), (lines, report["error"])
for line in lines:
    e = report["error"][line.split()[0].split("_", 1)[1] + ".output"]
    if e is None:  # a linear layer running a fused one stores no output of its own
        assert "rmse" not in line, line
        continue
    rmse = float(re.search(r"rmse ([0-9.e+-]+)", line).group(1))
    assert abs(rmse - e["rmse"]) <= 1e-3 * max(e["rmse"], 1e-6), (line, e)
PY
}

src='{"distribution": "uniform", "low": -0.5, "high": 0.5'
check bitlinear '{"name": "b", "tokens": 3, "layers": [
  {"type": "bitlinear", "name": "up", "in_features": 96, "out_features": 70},
  {"type": "bitlinear", "name": "down", "in_features": 70, "out_features": 40}]}'
check int8 '{"name": "i", "tokens": 4, "layers": [
  {"type": "linear", "format": "int8", "name": "a", "in_features": 50, "out_features": 30},
  {"type": "linear", "format": "int8", "name": "b", "in_features": 30, "out_features": 20}]}' \
  --set hw.mac_array.pe=int8_int8
check posit '{"name": "p", "tokens": 2, "layers": [
  {"type": "linear", "format": "posit16_1", "name": "a", "in_features": 40, "out_features": 24}]}' \
  --set hw.mac_array.pe=posit16_1
check lstm "{\"name\": \"l\", \"tokens\": 5, \"input\": $src, \"seed\": 4}, \"layers\": [
  {\"type\": \"lstm\", \"name\": \"l0\", \"in_features\": 24, \"hidden\": 32, \"format\": \"fp16\",
   \"bidirectional\": true, \"weights\": $src, \"seed\": 5}, \"biases\": $src, \"seed\": 6}},
  {\"type\": \"lstm\", \"name\": \"l1\", \"in_features\": 64, \"hidden\": 16, \"format\": \"fp16\",
   \"weights\": $src, \"seed\": 7}, \"biases\": $src, \"seed\": 8}}]}" \
  --set hw.mac_array.pe=fp16
check gru "{\"name\": \"g\", \"tokens\": 4, \"input\": $src, \"seed\": 4}, \"layers\": [
  {\"type\": \"gru\", \"name\": \"g0\", \"in_features\": 20, \"hidden\": 24, \"format\": \"ternary\",
   \"weights\": $src, \"seed\": 5}, \"biases\": $src, \"seed\": 6}}]}"
check attention '{"name": "a", "tokens": 6, "layers": [
  {"type": "attention", "name": "attn", "heads": 4, "kv_heads": 2, "head_dim": 16,
   "mode": "prefill", "context": 5, "format": "fp16"}]}' --set hw.mac_array.pe=fp16
check graph '{"name": "ffn", "tokens": 3, "layers": [
  {"type": "rmsnorm", "name": "norm", "in_features": 48,
   "gain": {"distribution": "uniform", "low": 0.5, "high": 1.5, "seed": 4}},
  {"type": "bitlinear", "name": "gate", "in_features": 48, "out_features": 80},
  {"type": "bitlinear", "name": "up", "in_features": 48, "out_features": 80, "inputs": ["norm"]},
  {"type": "activation", "name": "act", "function": "gelu", "inputs": ["gate"]},
  {"type": "mul", "name": "glu", "inputs": ["act", "up"]},
  {"type": "bitlinear", "name": "down", "in_features": 80, "out_features": 48},
  {"type": "add", "name": "residual", "inputs": ["down", "input"]},
  {"type": "layernorm", "name": "post_norm", "eps_log2": 30,
   "bias": {"distribution": "uniform", "low": -0.5, "high": 0.5, "seed": 6}}]}'
# The same block weights_outer, activations in DRAM in bf16: act, glu and the residual run in
# the epilogues of gate, up and down, which store no output of their own.
check graph_fused '{"name": "ffn", "tokens": 5, "layers": [
  {"type": "rmsnorm", "name": "norm", "in_features": 48},
  {"type": "bitlinear", "name": "gate", "in_features": 48, "out_features": 80, "loop_order": "weights_outer"},
  {"type": "bitlinear", "name": "up", "in_features": 48, "out_features": 80, "inputs": ["norm"], "loop_order": "weights_outer"},
  {"type": "activation", "name": "act", "function": "silu", "inputs": ["gate"]},
  {"type": "mul", "name": "glu", "inputs": ["up", "act"]},
  {"type": "bitlinear", "name": "down", "in_features": 80, "out_features": 48, "loop_order": "weights_outer"},
  {"type": "add", "name": "residual", "inputs": ["down", "input"]}]}' \
  --set hw.dram.activation_format=bf16
[ "$(grep -o '"fused_into"' "$tmp/graph_fused.report.json" | wc -l)" = 3 ]
check graph_attention "$(cat "$root/tests/scripts/data/attention_block.json")" --set hw.mac_array.pe=fp16
check graph_recurrent "{\"name\": \"r\", \"tokens\": 5, \"input\": $src, \"seed\": 4}, \"layers\": [
  {\"type\": \"layernorm\", \"name\": \"norm\", \"in_features\": 24},
  {\"type\": \"gru\", \"name\": \"gru\", \"in_features\": 24, \"hidden\": 16, \"format\": \"fp16\",
   \"bidirectional\": true, \"weights\": $src, \"seed\": 5}, \"biases\": $src, \"seed\": 6}},
  {\"type\": \"linear\", \"name\": \"proj\", \"format\": \"fp16\", \"in_features\": 32, \"out_features\": 24},
  {\"type\": \"lstm\", \"name\": \"lstm\", \"in_features\": 24, \"hidden\": 24, \"format\": \"fp16\",
   \"weights\": $src, \"seed\": 7}, \"biases\": $src, \"seed\": 8}},
  {\"type\": \"add\", \"name\": \"res\", \"inputs\": [\"lstm\", \"norm\"]},
  {\"type\": \"pool\", \"name\": \"max\", \"stride\": 2},
  {\"type\": \"pool\", \"name\": \"mean\", \"stride\": 2, \"op\": \"mean\", \"inputs\": [\"res\"]}]}" \
  --set hw.mac_array.pe=fp16
check mlp_attention '{"name": "m", "tokens": 3, "layers": [
  {"type": "linear", "name": "query", "format": "fp16", "in_features": 24, "out_features": 16},
  {"type": "mlp_attention", "name": "attn", "context": 25, "out_features": 20,
   "weights": {"distribution": "uniform", "low": -1, "high": 1, "seed": 4}}]}' \
  --set hw.mac_array.pe=fp16
check rope '{"name": "r", "tokens": 4, "layers": [
  {"type": "linear", "name": "k", "format": "fp16", "in_features": 24, "out_features": 32,
   "biases": {"std": 0.5, "seed": 9}},
  {"type": "rope", "name": "rope", "heads": 2, "context": 100, "theta": 500000}]}' \
  --set hw.mac_array.pe=fp16
# Two model inputs and an input-fed decoder in a step loop: numpy runs the loop step by step,
# the recurrence's state carried, the attention over the encoder's output.
check step_loop "{\"name\": \"s\", \"tokens\": 9, \"input\": $src, \"seed\": 4},
  \"inputs\": {\"characters\": {\"tokens\": 5, \"seed\": 5}},
  \"step_loop\": {\"first\": \"feed_in\", \"last\": \"out\",
                  \"carried\": {\"feed\": {\"from\": \"out\", \"width\": 16}}},
  \"layers\": [
  {\"type\": \"linear\", \"name\": \"encoder\", \"format\": \"fp16\", \"in_features\": 12, \"out_features\": 16},
  {\"type\": \"embedding\", \"name\": \"embed\", \"vocab\": 7, \"out_features\": 8, \"inputs\": [\"characters\"]},
  {\"type\": \"concat\", \"name\": \"feed_in\", \"inputs\": [\"embed\", \"feed\"]},
  {\"type\": \"lstm\", \"name\": \"rec\", \"in_features\": 24, \"hidden\": 20, \"format\": \"fp16\",
   \"weights\": $src, \"seed\": 7}, \"biases\": $src, \"seed\": 8}},
  {\"type\": \"linear\", \"name\": \"query\", \"format\": \"fp16\", \"in_features\": 20, \"out_features\": 16},
  {\"type\": \"attention\", \"name\": \"attn\", \"mode\": \"cross\", \"heads\": 1, \"head_dim\": 16,
   \"shared_kv\": true, \"scaled\": false, \"format\": \"fp16\", \"inputs\": [\"query\", \"encoder\"]},
  {\"type\": \"activation\", \"name\": \"out\", \"function\": \"tanh\"},
  {\"type\": \"linear\", \"name\": \"generator\", \"format\": \"fp16\", \"in_features\": 16, \"out_features\": 7}]}" \
  --set hw.mac_array.pe=fp16
check memory_from_graph "{\"name\": \"m\", \"tokens\": 6, \"input\": $src, \"seed\": 4},
  \"inputs\": {\"query_rows\": {\"tokens\": 3, \"seed\": 5}},
  \"layers\": [
  {\"type\": \"gru\", \"name\": \"memory\", \"in_features\": 10, \"hidden\": 12, \"format\": \"fp16\",
   \"weights\": $src, \"seed\": 7}, \"biases\": $src, \"seed\": 8}},
  {\"type\": \"linear\", \"name\": \"keys\", \"format\": \"fp16\", \"in_features\": 12, \"out_features\": 16},
  {\"type\": \"linear\", \"name\": \"query\", \"format\": \"fp16\", \"in_features\": 8, \"out_features\": 16,
   \"inputs\": [\"query_rows\"]},
  {\"type\": \"mlp_attention\", \"name\": \"attn\", \"inputs\": [\"query\", \"keys\", \"memory\"],
   \"weights\": $src, \"seed\": 9}}]}" \
  --set hw.mac_array.pe=fp16

# A corrupted output is caught.
/usr/bin/python3 - "$tmp/int8/0_a_output_q.npy" <<'PY'
import numpy as np, sys
q = np.load(sys.argv[1]); q[0, 0] ^= 1; np.save(sys.argv[1], q)
PY
if /usr/bin/python3 "$root/scripts/check_dump.py" "$tmp/int8" > /dev/null; then
  echo "check_dump.py missed a corrupted output"; exit 1
fi
echo "check_dump: ok"
