#!/usr/bin/env bash
# Sweeps: a single-process run; the same sweep killed with -9 and resumed; and the same sweep
# in 3 shards run through GNU parallel, then merged. All three databases must hold the same
# rows, row for row. merge must refuse a missing or a doubled shard.
set -euo pipefail
nmpsim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/spec.json" <<JSON
{ "name": "t", "hw": "$root/configs/hw/default.json",
  "workload": "$root/configs/workloads/bench/gemm_256x768x768_ternary.json",
  "grid": { "hw.mac_array.rows": [8, 16, 24, 32], "hw.mac_array.cols": [8, 16] },
  "random": { "samples": 2, "seed": 7,
              "fields": { "hw.dram.queue_depth": { "min": 8, "max": 64, "integer": true } } },
  "timing_only": true }
JSON
rows() { /usr/bin/python3 "$root/tests/scripts/data/db_rows.py" "$1"; }  # every row, in order
count() { /usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM points').fetchone()[0])" "$1"; }

"$nmpsim" sweep "$tmp/spec.json" --db "$tmp/one.sqlite" -j 2 -q > /dev/null
test "$(count "$tmp/one.sqlite")" = 16

# Killed with -9 part way (the children too), then resumed: only the missing points run.
setsid "$nmpsim" sweep "$tmp/spec.json" --db "$tmp/killed.sqlite" -j 1 -q > /dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ -f "$tmp/killed.sqlite" ] && [ "$(count "$tmp/killed.sqlite" 2>/dev/null || echo 0)" -ge 3 ] && break
  sleep 0.05
done
kill -9 -- -"$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
before=$(count "$tmp/killed.sqlite")
test "$before" -ge 3 && test "$before" -lt 16
if "$nmpsim" sweep "$tmp/spec.json" --db "$tmp/killed.sqlite" -q > "$tmp/err" 2>&1; then
  echo "a second run without --resume was accepted"; exit 1
fi
grep -q -- "--resume" "$tmp/err"
"$nmpsim" sweep "$tmp/spec.json" --db "$tmp/killed.sqlite" --resume -q > "$tmp/out"
grep -q "$((16 - before)) run, 0 failed, $before already done" "$tmp/out"
diff <(rows "$tmp/one.sqlite") <(rows "$tmp/killed.sqlite")

# Three shards through GNU parallel, merged.
parallel --will-cite "$nmpsim" sweep "$tmp/spec.json" --shard {}/3 --db "$tmp/shard{}.sqlite" -q \
  ::: 0 1 2 > /dev/null
"$nmpsim" merge "$tmp/merged.sqlite" "$tmp/shard0.sqlite" "$tmp/shard1.sqlite" "$tmp/shard2.sqlite" > /dev/null
diff <(rows "$tmp/one.sqlite") <(rows "$tmp/merged.sqlite")
if "$nmpsim" merge "$tmp/missing.sqlite" "$tmp/shard0.sqlite" "$tmp/shard2.sqlite" 2> "$tmp/err"; then
  echo "merge accepted a missing shard"; exit 1
fi
grep -q "is in none of the inputs" "$tmp/err"
if "$nmpsim" merge "$tmp/double.sqlite" "$tmp/shard0.sqlite" "$tmp/shard1.sqlite" "$tmp/shard1.sqlite" \
  "$tmp/shard2.sqlite" 2> "$tmp/err"; then
  echo "merge accepted a doubled shard"; exit 1
fi
grep -q "is also in" "$tmp/err"
# The Pareto plot of the merged sweep: both formats, and the same front as nmpsim printed.
/usr/bin/python3 "$root/scripts/plot_pareto.py" "$tmp/merged.sqlite" -o "$tmp/pareto" > "$tmp/plot"
test -s "$tmp/pareto.png" && grep -q "<svg" "$tmp/pareto.svg"
front=$("$nmpsim" sweep "$tmp/spec.json" --db "$tmp/one.sqlite" --resume -q | sed -n 's/^Pareto front.*: \([0-9]*\) points$/\1/p')
grep -q ": $front Pareto points" "$tmp/plot"
# Constrained: the plot's front under --constraint equals nmpsim's under the same bound in the
# spec, and is a subset of the points that meet it.
cap=$(/usr/bin/python3 -c "import sqlite3,sys; v=sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"SELECT value FROM metrics WHERE name='area_um2.total'\")); print(repr(v[len(v)//2]))" "$tmp/one.sqlite")
/usr/bin/python3 - "$tmp/spec.json" "$cap" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["name"] = "tc"
spec["constraints"] = {"area_um2.total": {"max": float(sys.argv[2])}}
json.dump(spec, open(sys.argv[1].replace("spec", "constrained"), "w"))
PY
"$nmpsim" sweep "$tmp/constrained.json" --db "$tmp/constrained.sqlite" -j 2 > "$tmp/cout"
cfront=$(sed -n 's/^Pareto front[^:]*: \([0-9]*\) points of the \([0-9]*\) .*/\1 \2/p' "$tmp/cout")
test -n "$cfront"
/usr/bin/python3 "$root/scripts/plot_pareto.py" "$tmp/one.sqlite" --constraint "area_um2.total<=$cap" \
  -o "$tmp/cpareto" > "$tmp/cplot"
read -r n m <<< "$cfront"
test "$m" -lt 16
grep -q ": $n Pareto points of the $m meeting the constraints" "$tmp/cplot"
if /usr/bin/python3 "$root/scripts/plot_pareto.py" "$tmp/one.sqlite" --constraint "area<2" \
  -o "$tmp/bad" 2> "$tmp/err"; then
  echo "plot_pareto.py accepted a malformed constraint"; exit 1
fi
grep -q "expected FIGURE<=VALUE" "$tmp/err"
echo ok
