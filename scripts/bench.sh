#!/usr/bin/env bash
# The simulator's own speed: simulated cycles per second and simulated MACs per second, per
# benchmark case and mode (lockstep, default, timing-only), on one core.
#
#   scripts/bench.sh [--repeat N] [--quick]
#
# Each case runs N times (default 5) pinned to core 0; the table gives the fastest run of the
# simulate phase (SystemC elaboration excluded, as are workload generation and the reference
# check, which --no-verify turns off), and the whole run's wall time. A second table (not with
# --quick) gives, per PE kind, the reference check's and workload generation's time against the
# simulate phase of the same run. Results go to stdout and out/bench/results.md;
# docs/performance.md keeps a copy with the machine described.
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=5
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --quick) quick=1; repeat=1; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
out=out/bench
mkdir -p "$out"
hw=configs/hw/default.json
wl=configs/workloads/bench
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)

# name | workload | --set overrides | hardware (default: $hw) | modes (default: all three)
cases=(
  "ternary GEMV 2560->6912, 64x64 adder tree|$wl/gemv_2560x6912_ternary.json|"
  "ternary GEMV 2560->6912, 64x64 adder tree, simple DRAM channel|$wl/gemv_2560x6912_ternary.json|hw.dram.standard=simple"
  "ternary GEMV 2560->6912, 32x32 adder tree|$wl/gemv_2560x6912_ternary.json|hw.mac_array.rows=32 hw.mac_array.cols=32"
  "ternary GEMM 256x768x768, 32x32 WS|$wl/gemm_256x768x768_ternary.json|hw.mac_array.rows=32 hw.mac_array.cols=32 hw.mac_array.dataflow=weight_stationary"
  "int8 GEMM 256x768x768, 32x32 WS|$wl/gemm_256x768x768_int8.json|hw.mac_array.rows=32 hw.mac_array.cols=32 hw.mac_array.dataflow=weight_stationary hw.mac_array.pe=int8_int8"
  "posit<8,0> GEMM 64x256x256, 32x32 WS|$wl/gemm_64x256x256_posit8.json|hw.mac_array.rows=32 hw.mac_array.cols=32 hw.mac_array.dataflow=weight_stationary hw.mac_array.pe=posit8_0"
  "ternary GEMV 2560->6912, 64x64 adder tree, three 4 GiB SRAMs|$wl/gemv_2560x6912_ternary.json|hw.act_sram.capacity_kib=4194304 hw.weight_sram.capacity_kib=4194304 hw.acc_sram.capacity_kib=4194304"
  "SCALE-Sim conventions: GEMV 1x6912x2560, 8x8 WS, padded folds, no preload overlap|$wl/gemv_2560x6912_ternary.json|hw.mac_array.rows=8 hw.mac_array.cols=8 hw.mac_array.dataflow=weight_stationary hw.mac_array.fold_timing=padded hw.mac_array.weight_preload_overlap=false"
  "BitNet b1.58 2B4T, whole decode of one token, LPDDR5 x4|workloads/models/bitnet_b158_2b4t_decode.json|hw.mac_array.pe=int8_int8|configs/hw/llm_64x64.json|timing-only"
)
modes=("lockstep|--lockstep" "default|" "timing-only|--timing-only")
[ "$quick" = 1 ] && cases=("${cases[0]}")

rows="$out/rows.tsv"
: > "$rows"
for c in "${cases[@]}"; do
  IFS='|' read -r name workload sets case_hw case_modes <<< "$c"
  case_hw=${case_hw:-$hw}
  set_args=()
  for s in $sets; do set_args+=(--set "$s"); done
  for m in "${modes[@]}"; do
    IFS='|' read -r mode flag <<< "$m"
    [ -n "$case_modes" ] && [[ " $case_modes " != *" $mode "* ]] && continue
    best_sim="" best_wall="" best_elab=""
    for ((i = 0; i < repeat; i++)); do
      start=$(date +%s%N)
      "${pin[@]}" build/nmpsim run --hw "$case_hw" --workload "$workload" "${set_args[@]}" $flag \
        --no-verify --profile --quiet --out "$out/report.json" 2> "$out/profile.txt"
      end=$(date +%s%N)
      sim=$(awk '$2 == "simulate" { print $3 }' "$out/profile.txt")
      elab=$(awk '$2 == "elaborate" { print $3 }' "$out/profile.txt")
      wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
      best_sim=$(awk -v a="$sim" -v b="${best_sim:-inf}" 'BEGIN { print (b == "inf" || a < b) ? a : b }')
      best_wall=$(awk -v a="$wall" -v b="${best_wall:-inf}" 'BEGIN { print (b == "inf" || a < b) ? a : b }')
      best_elab=$(awk -v a="$elab" -v b="${best_elab:-inf}" 'BEGIN { print (b == "inf" || a < b) ? a : b }')
    done
    read -r cycles macs < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["cycles"]["total"], r["counters"]["mac_array"]["macs"])' "$out/report.json")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$mode" "$cycles" "$macs" "$best_sim" "$best_wall" \
      "$best_elab" >> "$rows"
    echo "bench: $name, $mode: $cycles cycles, simulate ${best_sim} s" >&2
  done
done

# The reference check and workload generation against the simulate phase, per PE kind: the
# GEMM 256 x 768 x 768 on 32 x 32 weight-stationary, values computed and every output checked.
checks="$out/checks.tsv"
: > "$checks"
if [ "$quick" = 0 ]; then
  for kind in ternary_int8 int8_int8 fp16 bf16 fp8_e4m3 fp8_e5m2 posit8_0 posit16_1 fixed2_6 fixed2_14 fp32; do
    case "$kind" in
      ternary_int8) workload=$wl/gemm_256x768x768_ternary.json; format=() ;;
      int8_int8) workload=$wl/gemm_256x768x768_int8.json; format=() ;;
      *) workload=$wl/gemm_256x768x768_int8.json; format=(--set "workload.layers.0.format=$kind") ;;
    esac
    best=""
    for ((i = 0; i < repeat; i++)); do
      "${pin[@]}" build/nmpsim run --hw "$hw" --workload "$workload" "${format[@]}" \
        --set hw.mac_array.rows=32 --set hw.mac_array.cols=32 \
        --set hw.mac_array.dataflow=weight_stationary --set hw.mac_array.pe="$kind" \
        --profile --quiet 2> "$out/profile.txt" > /dev/null
      read -r gen sim ref < <(awk '$2 == "generate" { g = $3 } $2 == "simulate" { s = $3 }
        $2 == "reference" { r = $3 } END { print g, s, r }' "$out/profile.txt")
      # The run whose reference took least (its other phases with it).
      if [ -z "$best" ] || awk -v a="$ref" -v b="${best##* }" 'BEGIN { exit !(a < b) }'; then
        best="$gen $sim $ref"
      fi
    done
    printf '%s\t%s\n' "$kind" "${best// /$'\t'}" >> "$checks"
    echo "bench: reference check, $kind: generate, simulate, reference $best s" >&2
  done
fi

# The analytical model (run --analytical): its estimate phase per layer of the model (layer
# evaluations per second), the lowering before it (the mapper's search, which a sweep point
# also pays), and its cycles against the timing-only simulation of the same run.
analytic="$out/analytical.tsv"
: > "$analytic"
if [ "$quick" = 0 ]; then
  for c in \
    "BitNet b1.58 2B4T, whole decode of one token|workloads/models/bitnet_b158_2b4t_decode.json|int8_int8" \
    "BitNet b1.58 2B4T, one layer's prefill of 128 tokens|workloads/models/bitnet_b158_2b4t_layer_prefill128.json|int8_int8" \
    "BERT-base, one layer over 128 tokens|workloads/models/bert_base_layer_seq128.json|fp16" \
    "LLaMA 3B FP16, one layer's prefill of 128 tokens|workloads/models/llama_fp16_3b_layer_prefill128.json|fp16"; do
    IFS='|' read -r name workload pe <<< "$c"
    best="" best_lower=""
    for ((i = 0; i < repeat; i++)); do
      "${pin[@]}" build/nmpsim run --hw configs/hw/llm_64x64.json --workload "$workload" \
        --set hw.mac_array.pe="$pe" --analytical --profile --quiet 2> "$out/profile.txt"
      t=$(awk '$2 == "estimate" { print $3 }' "$out/profile.txt")
      best=$(awk -v a="$t" -v b="${best:-inf}" 'BEGIN { print (b == "inf" || a < b) ? a : b }')
      t=$(awk '$2 == "lower" { print $3 }' "$out/profile.txt")
      best_lower=$(awk -v a="$t" -v b="${best_lower:-inf}" \
        'BEGIN { print (b == "inf" || a < b) ? a : b }')
    done
    "${pin[@]}" build/nmpsim run --hw configs/hw/llm_64x64.json --workload "$workload" \
      --set hw.mac_array.pe="$pe" --timing-only --quiet --out "$out/report.json"
    read -r layers simulated predicted < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(len(r["layers"]), r["cycles"]["total"], r["analytical"]["cycles"])' "$out/report.json")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$layers" "$best" "$best_lower" "$simulated" \
      "$predicted" >> "$analytic"
    echo "bench: analytical, $name: $layers layers in $best s (lowered in $best_lower s)" >&2
  done
  # What a sweep point costs whole (in a worker, configs read, lowered, estimated, stored): an
  # analytical sweep of the BERT layer over 20 hardware points, one job, fastest of the runs.
  cat > "$out/sweep.json" <<SPEC
{
  "name": "bench",
  "hw": "$PWD/configs/hw/llm_64x64.json",
  "workload": "$PWD/workloads/models/bert_base_layer_seq128.json",
  "timing_only": true,
  "grid": { "hw.mac_array.pe": ["fp16"], "hw.act_sram.capacity_kib": [256, 512],
            "hw.weight_sram.capacity_kib": [256, 512, 1024, 2048, 4096],
            "hw.vector_unit.lanes": [32, 64] }
}
SPEC
  best=""
  for ((i = 0; i < repeat; i++)); do
    rm -f "$out/sweep.sqlite"
    start=$(date +%s.%N)
    "${pin[@]}" build/nmpsim sweep "$out/sweep.json" --analytical --db "$out/sweep.sqlite" -q \
      > /dev/null
    t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    best=$(awk -v a="$t" -v b="${best:-inf}" 'BEGIN { print (b == "inf" || a < b) ? a : b }')
  done
  rm -f "$out/sweep.sqlite"
  layers=$(awk -F'\t' '$1 ~ /^BERT/ { print $2 }' "$analytic")
  printf 'sweep\t20\t%s\t%s\n' "$layers" "$best" > "$out/sweep.tsv"
  echo "bench: analytical sweep, 20 points of the BERT layer in $best s" >&2
fi

if [ "$quick" = 1 ]; then : > "$out/sweep.tsv"; fi
python3 - "$rows" "$repeat" "$checks" "$analytic" "$out/sweep.tsv" > "$out/results.md" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print(f"Fastest of {sys.argv[2]} runs per row, pinned to one core. 'simulate' is the SystemC run "
      "alone; 'elaborate' building the SystemC model before it; 'wall' is the whole command "
      "(workload generation, lowering, elaboration, simulation, report).\n")
print("| case | mode | simulated cycles | simulated MACs | simulate (s) | cycles/s | MACs/s | "
      "elaborate (ms) | wall (s) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name, mode, cycles, macs, sim, wall, elab in rows:
    cycles, macs, sim, wall, elab = int(cycles), int(macs), float(sim), float(wall), float(elab)
    rate = lambda n: f"{n / sim:.3g}" if sim > 0 else "n/a (below timer resolution)"
    print(f"| {name} | {mode} | {cycles:,} | {macs:,} | {sim:.3f} | {rate(cycles)} | {rate(macs)} | "
          f"{elab * 1e3:.2f} | {wall:.2f} |")


def table(path, intro, columns):
    """The rows of a .tsv file, after printing `intro` and a table header of `columns` (the
    first left-aligned) when there are any."""
    rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
    if rows:
        print(f"\n{intro}\n")
        print("| " + " | ".join(columns) + " |")
        print("|---|" + "---:|" * (len(columns) - 1))
    return rows


for kind, gen, sim, ref in table(
        sys.argv[3], "The reference check and workload generation against the simulate phase: "
        "GEMM 256 x 768 x 768 on 32 x 32 weight-stationary, values computed, every output checked "
        "(the run with the fastest reference).",
        ["PE kind", "generate (s)", "simulate (s)", "reference (s)", "reference / simulate",
         "generate / simulate"]):
    gen, sim, ref = float(gen), float(sim), float(ref)
    print(f"| {kind} | {gen:.3f} | {sim:.3f} | {ref:.3f} | {ref / sim:.2f} | {gen / sim:.2f} |")
for name, layers, t, lower, simulated, predicted in table(
        sys.argv[4], "The analytical model (`run --analytical`, docs/architecture.md"
        "#analytical-model) on configs/hw/llm_64x64.json: its estimate phase (fastest run), layer "
        "evaluations per second; the lowering before it (fastest run: the mapper's search and the "
        "DRAM rates it measures, which every run and sweep point also pays) and the layers per "
        "second of both; its cycles against the timing-only simulation of the same run.",
        ["model", "layers", "estimate (s)", "layers/s", "lower (s)", "with lowering, layers/s",
         "simulated cycles", "predicted cycles", "predicted / simulated"]):
    layers, t, lower = int(layers), float(t), float(lower)
    simulated, predicted = int(simulated), int(predicted)
    print(f"| {name} | {layers} | {t:.4f} | {layers / t:,.0f} | {lower:.4f} | "
          f"{layers / (t + lower):,.0f} | {simulated:,} | {predicted:,} | "
          f"{predicted / simulated:.3f} |")
for _, points, layers, t in table(
        sys.argv[5], "An analytical sweep (`nmpsim sweep --analytical`, one job, fastest run) of "
        "the BERT layer over 20 hardware points: each point run in a worker process, its configs "
        "read, lowered, estimated and stored, as a million-point sweep would run them.",
        ["sweep", "points", "seconds", "points/s", "layers/s"]):
    points, layers, t = int(points), int(layers), float(t)
    print(f"| BERT-base layer, 20 points | {points} | {t:.3f} | {points / t:,.0f} | "
          f"{points * layers / t:,.0f} |")
EOF
cat "$out/results.md"
echo
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(g++ --version | head -1);" \
  "SystemC $(dpkg-query -W -f='${Version}' libsystemc-dev 2>/dev/null || echo '?');" \
  "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
