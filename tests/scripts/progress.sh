#!/usr/bin/env bash
# The progress line: on a terminal (a pseudo-terminal made by script(1)) a run longer than a
# second and a sweep draw one on standard error; with -q, or when standard error is not a
# terminal, nothing is drawn. The run's report is the same either way.
set -euo pipefail
nmpsim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v script > /dev/null || { echo "progress.sh: script(1) is missing (util-linux)"; exit 1; }
run=("$nmpsim" run --hw "$root/configs/hw/llm_64x64.json"
     --workload "$root/workloads/models/bitnet_b158_2b4t_decode.json" --timing-only
     --set hw.mac_array.pe=int8_int8)
quote() { printf '%q ' "$@"; }

# On a terminal: the line, rewritten in place, naming the layer and the rate.
script -qfec "$(quote "${run[@]}") --out $tmp/tty.json" /dev/null > "$tmp/tty.txt"
grep -q $'\rnmpsim: simulating layer [0-9]*/546 ([^)]*), [0-9]* cycles, [0-9.e+]* cycles/s' "$tmp/tty.txt"
# -q on a terminal: nothing at all.
script -qfec "$(quote "${run[@]}") -q --out $tmp/quiet.json" /dev/null > "$tmp/quiet.txt"
! grep -q "simulating" "$tmp/quiet.txt"
test ! -s "$tmp/quiet.txt"
# Not a terminal: the summary on standard output, no progress on standard error.
"${run[@]}" --out "$tmp/pipe.json" > "$tmp/pipe.out" 2> "$tmp/pipe.err"
test ! -s "$tmp/pipe.err"
grep -q "cycles" "$tmp/pipe.out"
cmp "$tmp/tty.json" "$tmp/pipe.json"
cmp "$tmp/quiet.json" "$tmp/pipe.json"

# A sweep on a terminal: points done, failures, rate and ETA; the last state stays.
cat > "$tmp/spec.json" <<JSON
{ "name": "p", "hw": "$root/configs/hw/default.json",
  "workload": "$root/configs/workloads/bench/gemm_256x768x768_ternary.json",
  "grid": { "hw.mac_array.rows": [8, 16, 32] }, "timing_only": true }
JSON
script -qfec "$(quote "$nmpsim" sweep "$tmp/spec.json" --db "$tmp/s1.sqlite")" /dev/null > "$tmp/sweep.txt"
grep -q $'\rsweep p: 3/3 points, 0 failed, 0 running, [0-9.]* points/s, ETA 0s' "$tmp/sweep.txt"
"$nmpsim" sweep "$tmp/spec.json" --db "$tmp/s2.sqlite" > /dev/null 2> "$tmp/sweep.err"
! grep -q "points/s" "$tmp/sweep.err"
echo "progress.sh: ok"
