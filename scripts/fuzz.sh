#!/usr/bin/env bash
# Fuzzes every parser (tests/fuzz/fuzz_*.cpp) with libFuzzer under ASan and UBSan, SECONDS each
# (default 60), starting from the seed corpora in tests/fuzz/corpus/<parser>/. Installs clang and
# its fuzzer runtime from Debian if missing, builds into build-fuzz/, keeps each parser's grown
# corpus in build-fuzz/corpus/<parser>/ and any crashing input in build-fuzz/findings/<parser>/.
# Prints executions per parser; exits 1 if any harness found something.
#   scripts/fuzz.sh            # 60 s per parser
#   scripts/fuzz.sh 10         # CI: a short run of each
#   JOBS=2 scripts/fuzz.sh 3600 hw workload   # only some parsers, two at a time
#   RUNS=10000000 scripts/fuzz.sh 0 report    # a number of executions instead of a time (the
#                                             # offline goal of docs/validation.md)
#   TIMEOUT=30 ...                            # seconds one input may take (default 10); the
#                                             # long runs use 30: under ASan a sweep spec near
#                                             # the 2^20-point limit legitimately takes ~20 s
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fuzz: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
BUILD_DIR=build-fuzz BUILD_TYPE=RelWithDebInfo CC=clang CXX=clang++ \
  CMAKE_ARGS="-DNMP_FUZZ=ON -DNMP_BUILD_TESTS=OFF" scripts/setup.sh

parsers=("$@")
if [ ${#parsers[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do parsers+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
fi
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {
  local p=$1 corpus=build-fuzz/corpus/$1 findings=build-fuzz/findings/$1
  mkdir -p "$corpus" "$findings"
  [ -d "tests/fuzz/corpus/$p" ] && cp -n tests/fuzz/corpus/"$p"/* "$corpus"/ 2>/dev/null || true
  local log=build-fuzz/fuzz-$p.log
  local limit=-max_total_time="$seconds"
  [ -n "${RUNS:-}" ] && limit=-runs="$RUNS"
  if build-fuzz/fuzz_"$p" "$corpus" "$limit" -max_len=65536 -timeout="${TIMEOUT:-10}" \
       -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1 > "$log" 2>&1; then
    echo "fuzz $p: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions, no finding"
  else
    echo "fuzz $p: FINDING (log: $log, input in $findings/)"
    grep -E "ERROR|finding|runtime error|Assertion" "$log" | head -5
    return 1
  fi
}
export -f run_one
export seconds RUNS TIMEOUT
status=0
printf '%s\n' "${parsers[@]}" | xargs -P "${JOBS:-1}" -I{} bash -c 'run_one {}' || status=1
exit $status
