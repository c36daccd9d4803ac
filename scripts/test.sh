#!/usr/bin/env bash
# Sets up and builds nmpsim, then runs the whole test suite through ctest.
# SANITIZE=1 builds into build-asan/ with -fsanitize=address,undefined and runs the suite there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SANITIZE:-0}" = 1 ]; then
  export BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DNMP_SANITIZE=ON"
  export ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
scripts/setup.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
