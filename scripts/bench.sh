#!/usr/bin/env bash
# Builds and runs the overhead benchmarks on the simulated device and prints
# what liboomtrace.so adds per call, with and without native stacks, beside
# the targets; plus memory per live allocation, trace bytes per event and the
# heaptrack anchor. Ratios are measured in one run.
#
#   scripts/bench.sh [--min-time SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"
oomtrace_packages+=(libbenchmark-dev)
install_missing_packages
find_cuda_headers
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOOMTRACE_CUDA_HOME="$cuda_home" >/dev/null
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target overhead_table >/dev/null
"$build_dir/bench/overhead_table" "$@"
