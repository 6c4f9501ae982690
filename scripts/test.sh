#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks, builds oomtrace and runs every
# test (unit tests, the simulated CUDA device's self-test, the end-to-end
# scenarios under liboomtrace.so). No GPU needed.
#
#   scripts/test.sh              build in ./build and run the suite
#   BUILD_DIR=/tmp/b scripts/test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"

install_missing_packages
find_cuda_headers

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOOMTRACE_CUDA_HOME="$cuda_home" >/dev/null
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
