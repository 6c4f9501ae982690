#!/usr/bin/env bash
# Fuzzes the readers of untrusted files (traces, PyTorch snapshot pickles)
# with libFuzzer, each for a bounded time, starting from the corpus kept in
# tests/fuzz/corpus/. A crash, a leak, a hang (-timeout) or memory beyond
# -rss_limit_mb fails the run and leaves the input in the work folder.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      default 60 (CI uses this)
#   scripts/fuzz.sh --merge [SECONDS]         also add new coverage to the corpus
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"

merge=0
if [ "${1:-}" = "--merge" ]; then
  merge=1
  shift
fi
seconds=${1:-60}
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}

oomtrace_packages+=(clang libclang-rt-14-dev)
install_missing_packages
find_cuda_headers

CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -DOOMTRACE_FUZZ=ON -DOOMTRACE_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOOMTRACE_CUDA_HOME="$cuda_home" >/dev/null
targets=(fuzz_trace_reader)
[ -f "$root/tests/fuzz/fuzz_snapshot_reader.cpp" ] && targets+=(fuzz_snapshot_reader)
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"

for target in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/${target#fuzz_}"
  work="$build_dir/work/$target"
  mkdir -p "$corpus" "$work/new"
  echo "fuzz: $target for ${seconds}s from $(ls "$corpus" | wc -l) corpus files" >&2
  (cd "$work" && "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=1024 -max_len=262144 -print_final_stats=1 "$work/new" "$corpus")
  if [ "$merge" = 1 ]; then
    "$build_dir/tests/fuzz/$target" -merge=1 "$corpus" "$work/new" >/dev/null 2>&1
  fi
done
echo "fuzz: no crash in ${#targets[@]} targets, ${seconds}s each" >&2
