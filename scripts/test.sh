#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks, builds oomtrace and runs every
# test (unit tests, the simulated CUDA device's self-test, the end-to-end
# scenarios and fault tests under liboomtrace.so). No GPU needed.
#
#   scripts/test.sh                      build in ./build and run the suite
#   scripts/test.sh --sanitize           then again under ASan+UBSan (./build-asan)
#                                        and under TSan (./build-tsan)
#   scripts/test.sh --sanitize=address   (or =thread) one sanitizer only
#   scripts/test.sh --no-torch           without the scenarios under the real PyTorch
#                                        (otherwise torch 2.11 and 2.6 are installed from
#                                        PyPI into ~/.cache/oomtrace once and reused)
#   BUILD_DIR=/tmp/b scripts/test.sh     sanitized builds go to /tmp/b-asan, /tmp/b-tsan
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
# shellcheck source=scripts/common.sh
source "$root/scripts/common.sh"

sanitizers=()
with_torch=1
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitizers=(address thread) ;;
    --sanitize=address|--sanitize=thread) sanitizers=("${arg#--sanitize=}") ;;
    --no-torch) with_torch=0 ;;
    *) echo "usage: scripts/test.sh [--sanitize[=address|thread]] [--no-torch]" >&2; exit 2 ;;
  esac
done

install_missing_packages
find_cuda_headers

torch_pythons=()
if [ "$with_torch" = 1 ]; then
  install_torch_venvs
else
  echo "oomtrace: --no-torch: skipped the scenarios under the real PyTorch (tests/torch)" >&2
fi
# A ;-list for CMake; empty clears what an earlier configure cached.
torch_list=$(IFS=';'; echo "${torch_pythons[*]}")

jobs=$(nproc 2>/dev/null || echo 2)
started=$SECONDS
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOOMTRACE_CUDA_HOME="$cuda_home" -DOOMTRACE_TORCH_PYTHONS="$torch_list" >/dev/null
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
echo "oomtrace: build and tests took $((SECONDS - started))s" >&2

# Sanitized runs: the same suite, built at -O1 (what the sanitizers'
# documentation advises) with line tables only, without the benchmarks.
for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in address) suffix=asan ;; thread) suffix=tsan ;; esac
  sanitized_dir="$build_dir-$suffix"
  started=$SECONDS
  cmake -S "$root" -B "$sanitized_dir" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DOOMTRACE_SANITIZE="$sanitizer" -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON -DOOMTRACE_TORCH_PYTHONS="" \
    -DOOMTRACE_CUDA_HOME="$cuda_home" >/dev/null
  cmake --build "$sanitized_dir" -j "$jobs"
  ctest --test-dir "$sanitized_dir" --output-on-failure -j "$jobs"
  echo "oomtrace: $sanitizer sanitizer build and tests took $((SECONDS - started))s" >&2
done
