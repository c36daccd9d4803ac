#!/usr/bin/env bash
# nmpsim regress: the shipped suite matches its baseline; a figure moved on purpose (one more
# cycle of DRAM CAS latency in one variant) is caught, named, and reported in JUnit XML; --update
# re-blesses it.
set -euo pipefail
nmpsim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nmpsim" regress "$root/configs/suites/core.json" --junit "$tmp/ok.xml" > "$tmp/out"
grep -q "17 cases, 0 failed (0 did not run or differ from their bit-exact reference), 0 figures beyond tolerance" "$tmp/out"
grep -q 'failures="0"' "$tmp/ok.xml"

# The same suite next to a copy of its baseline, with one variant changed.
mkdir -p "$tmp/suites"
cp "$root/configs/suites/core.baseline.json" "$tmp/suites/"
/usr/bin/python3 - "$root/configs/suites/core.json" "$tmp/suites/core.json" "$root" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for v in s["variants"].values():
    v["hw"] = sys.argv[3] + "/configs/" + v["hw"].removeprefix("../")
    v["set"] = [x.replace("../tech/", sys.argv[3] + "/configs/tech/") for x in v["set"]]
for w in s["workloads"].values():
    if "file" in w:
        w["file"] = sys.argv[3] + "/" + w["file"].removeprefix("../../")
s["variants"]["int8-ws"]["set"].append("hw.dram.timing.cl=18")
json.dump(s, open(sys.argv[2], "w"))
PY
if "$nmpsim" regress "$tmp/suites/core.json" --junit "$tmp/bad.xml" > "$tmp/out"; then
  echo "regress missed a moved figure"; exit 1
fi
grep -q "int8-ws/int8 *cycles.total" "$tmp/out"
grep -q "int8-ws/attention-decode-gqa *cycles.total" "$tmp/out"
if grep -q "ternary-tree/bitlinear *cycles.total" "$tmp/out"; then
  echo "an unchanged variant was flagged"; exit 1
fi
grep -q 'failures="2"' "$tmp/bad.xml"
# The summary counts what JUnit counts.
grep -q "17 cases, 2 failed" "$tmp/out"
grep -q '<failure message=' "$tmp/bad.xml"
"$nmpsim" regress "$tmp/suites/core.json" --update > "$tmp/out"
grep -q "re-blessed" "$tmp/out"
"$nmpsim" regress "$tmp/suites/core.json" > "$tmp/out"
grep -q "0 figures beyond tolerance" "$tmp/out"

# A missing or malformed baseline is bad input (exit 2), not an empty one.
mv "$tmp/suites/core.baseline.json" "$tmp/suites/moved.json"
set +e
"$nmpsim" regress "$tmp/suites/core.json" > "$tmp/out" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "no baseline" "$tmp/err"
echo '[1, 2]' > "$tmp/suites/core.baseline.json"
set +e
"$nmpsim" regress "$tmp/suites/core.json" > "$tmp/out" 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "expected an object of cases" "$tmp/err"
echo ok
