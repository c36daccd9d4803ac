#!/usr/bin/env bash
# scripts/plot_energy.py draws both charts, as PNG and SVG, from real reports, and rejects a
# file that is not a report.
set -euo pipefail
nmpsim=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/w.json" <<'JSON'
{ "name": "small", "tokens": 2,
  "layers": [ { "type": "bitlinear", "name": "l0", "in_features": 64, "out_features": 32 } ] }
JSON
"$nmpsim" run --hw "$root/configs/hw/default.json" --workload "$tmp/w.json" -q --out "$tmp/a.json"
"$nmpsim" run --hw "$root/configs/hw/default.json" --workload "$tmp/w.json" -q --out "$tmp/b.json" \
  --set hw.mac_array.rows=16
/usr/bin/python3 "$root/scripts/plot_energy.py" "$tmp/a.json" "$tmp/b.json" -o "$tmp/plot/energy"
for f in energy_by_unit.png energy_by_unit.svg energy_by_event.png energy_by_event.svg; do
  test -s "$tmp/plot/$f" || { echo "missing $f"; exit 1; }
done
grep -q "<svg" "$tmp/plot/energy_by_unit.svg"
echo '{"x": 1}' > "$tmp/bad.json"
if /usr/bin/python3 "$root/scripts/plot_energy.py" "$tmp/bad.json" -o "$tmp/plot/bad" 2> "$tmp/err"; then
  echo "accepted a non-report"; exit 1
fi
grep -q "not an nmpsim report" "$tmp/err"
