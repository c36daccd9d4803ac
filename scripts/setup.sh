#!/usr/bin/env bash
# Installs the Debian packages nmpsim needs (if missing), then configures and builds it into
# build/ (Release unless BUILD_TYPE says otherwise). Idempotent: a second run only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make pkg-config
  libsystemc-dev libboost-dev libboost-program-options-dev libspdlog-dev catch2
  nlohmann-json3-dev libsqlite3-dev
  python3 python3-numpy python3-matplotlib parallel
  python3-dev pybind11-dev python3-pytest slurm-wlm munge
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-Release}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" ${CMAKE_ARGS:-} > /dev/null
cmake --build "$build_dir" -j "$(nproc)"
