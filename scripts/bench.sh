#!/usr/bin/env bash
# Builds and runs the overhead benchmarks on the simulated device and prints
# what liboomtrace.so adds per call, with and without native stacks, beside
# the targets; plus memory per live allocation, trace bytes per event and the
# heaptrack anchor; instructions per pair under callgrind; the report at
# exit after ten million events; then how fast report, export and merge read
# a trace of ten million events (bench/report_speed.py). Ratios are measured
# in one run.
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
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target overhead_table oomtrace_cli large_trace pair_loop failure_catch_up >/dev/null
"$build_dir/bench/overhead_table" "$@"
echo
# Instructions per pair, which do not move with the machine's noise.
python3 "$root/bench/callgrind_pairs.py" --pair-loop "$build_dir/bench/pair_loop" \
  --library "$build_dir/liboomtrace.so" --fake-cuda-dir "$build_dir/fake_cuda"
echo
# The report the library writes at exit, after ten million events.
python3 "$root/bench/exit_report_cost.py" --pair-loop "$build_dir/bench/pair_loop" \
  --library "$build_dir/liboomtrace.so" --fake-cuda-dir "$build_dir/fake_cuda" \
  --events "${OOMTRACE_BENCH_EVENTS:-10000000}"
# The first failure after as many events: the library's model catches up.
"$build_dir/bench/failure_catch_up" "${OOMTRACE_BENCH_EVENTS:-10000000}"
echo
# Reading a long trace: report, export and merge on ten million events.
python3 "$root/bench/report_speed.py" --oomtrace "$build_dir/oomtrace" --generator "$build_dir/bench/large_trace" \
  --events "${OOMTRACE_BENCH_EVENTS:-10000000}" --work-dir "$build_dir/bench/report_speed"
