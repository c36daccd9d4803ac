#!/usr/bin/env bash
# Sets up nmpsim, then simulates the default workload on the default hardware and prints the
# report summary. The full JSON report goes to out/demo/report.json, tensors to out/demo/tensors.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p out/demo
build/nmpsim run --hw configs/hw/default.json --workload configs/workloads/default.json \
  --out out/demo/report.json --dump out/demo/tensors "$@"
echo "report: out/demo/report.json, tensors: out/demo/tensors/"
