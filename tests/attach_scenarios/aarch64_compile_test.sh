#!/usr/bin/env bash
# Compiles every source with an AArch64 branch (the injector's registers,
# the library's GOT patching and its dlsym entry) for AArch64.
#   aarch64_compile_test.sh CXX SOURCE_DIR CUDA_INCLUDE
set -euo pipefail
cxx=$1
root=$2
cuda_include=$3
status=0
for source in cli/attach/machine_registers.cpp cli/attach/injector.cpp cli/attach/traced_threads.cpp \
              $(cd "$root" && ls interpose/attach/*.cpp) interpose/dlsym_entry.S; do
  if "$cxx" -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I"$root" -I"$root/include" -I"$cuda_include" \
       "$root/$source"; then
    echo "ok   $source"
  else
    echo "FAIL $source"
    status=1
  fi
done
exit $status
