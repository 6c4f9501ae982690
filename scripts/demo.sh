#!/usr/bin/env bash
# Builds oomtrace and shows what it finds when a program runs out of GPU
# memory. With a GPU and PyTorch it runs a real PyTorch job; without one, the
# real PyTorch on oomtrace's simulated 16 GiB GPU when scripts/test.sh has
# installed it (a job whose cache fragments), else a C++ training loop on the
# simulated device.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"

install_missing_packages
find_cuda_headers
cmake -S "$root" -B "$build_dir" -DOOMTRACE_CUDA_HOME="$cuda_home" >/dev/null
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" \
  --target oomtrace oomtrace_cli demo_training fake_cuda_driver fake_cuda_runtime fake_cuda_runtime12 fake_nvml >/dev/null
cached_torch=$(torch_cache_dir)/torch-${oomtrace_torch_versions[0]}

out_dir=$(mktemp -d /tmp/oomtrace-demo.XXXXXX)
echo "oomtrace demo: output in $out_dir" >&2

has_real_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 &&
    python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null
}

if [ "${OOMTRACE_DEMO_SIMULATED:-0}" != 1 ] && has_real_gpu; then
  echo "oomtrace demo: a real GPU and PyTorch found; running a PyTorch job that runs out of memory" >&2
  "$build_dir/oomtrace" run --dir "$out_dir" -- python3 "$root/scripts/demo_pytorch_oom.py" || true
elif torch_venv_ready "$cached_torch" "${oomtrace_torch_versions[0]}"; then
  echo "oomtrace demo: no GPU here; the real PyTorch ${oomtrace_torch_versions[0]} on a simulated 16 GiB GPU," \
    "with PyTorch's allocation history on so that the report can replay it" >&2
  OOMTRACE_TORCH_HISTORY=1 "$build_dir/oomtrace" run --simulate-gpu 16GiB --dir "$out_dir" -- \
    "$cached_torch/bin/python" "$root/tests/torch/torch_scenarios.py" fragmentation "$out_dir/observed.json" || true
else
  echo "oomtrace demo: no GPU here; running a training loop on the simulated 16 GiB GPU" >&2
  LD_LIBRARY_PATH="$build_dir/fake_cuda" FAKE_CUDA_TOTAL_MIB=16384 FAKE_CUDA_CONTEXT_MIB=512 \
    "$build_dir/oomtrace" run --dir "$out_dir" -- "$build_dir/tests/scenarios/demo_training" || true
fi

# The same failure as a page to open in a browser: the timeline, the segment
# map at the failure and the ranked suggestions.
for trace in "$out_dir"/oomtrace.*.trace; do
  [ -e "$trace" ] || continue
  page="${trace%.trace}.report.html"
  if "$build_dir/oomtrace" report --format html "$trace" -o "$page"; then
    echo "oomtrace demo: the HTML report: $page" >&2
  fi
done
