#!/usr/bin/env bash
# liboomtrace.so must export exactly its hooks, dlsym (unversioned), the
# bridges' entry points and the public API of include/oomtrace/oomtrace.h,
# and depend on nothing but glibc and the C++ runtime, so that it loads into
# any process and never clashes with the host's own libraries.
#   library_exports_test.sh LIBRARY HOOKED_FUNCTIONS_DEF PUBLIC_HEADER
set -euo pipefail
library=$1
def=$2
header=$3

# The functions the public header declares: every name it calls oomtrace_*(.
public_api=$(grep -oE '\boomtrace_[a-z_]+\(' "$header" | tr -d '(' | sort -u)
if [ -z "$public_api" ]; then
  echo "no public functions found in $header"
  exit 1
fi

expected=$( (grep -oE '^\s*X\((Runtime|Driver), [A-Za-z0-9_]+\)' "$def" |
  sed -E 's/.*, ([A-Za-z0-9_]+)\)/\1/'; echo dlsym;
  # The exec family (interpose/exec_hooks.cpp) and the marker of each copy
  # of the library (interpose/instance_guard.h).
  echo execve; echo execv; echo execvp; echo execvpe; echo execl; echo execle; echo execlp;
  echo fexecve; echo execveat; echo posix_spawn; echo posix_spawnp; echo oomtrace_instance_marker;
  # The C++ throw hook and the framework bridges' entry points.
  echo __cxa_throw; echo oomtrace_bridge_trace_path; echo oomtrace_bridge_attachment;
  echo oomtrace_bridge_framework_error; echo oomtrace_bridge_note;
  # `oomtrace attach`: the call the injector makes, and the block it reads
  # (interpose/attach/attach_control_block.h).
  echo oomtrace_attach_begin; echo oomtrace_attach_control;
  echo "$public_api") | sort)
actual=$(nm -D --defined-only "$library" | awk '{print $3}' | sort)
if [ "$expected" != "$actual" ]; then
  echo "exported symbols differ from hooked_functions.def + dlsym + bridges + public API:"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi

# No version node on any export (a named node hides dlsym from programs
# linked against dlsym@GLIBC_2.34).
if readelf --dyn-syms -W "$library" | awk '$7 != "UND"' | grep -E ' (cu|cuda|dl|exec|fexec|posix_spawn)[A-Za-z0-9_]*@' ; then
  echo "an export carries a version node"
  exit 1
fi

needed=$(readelf -d "$library" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | sort | tr '\n' ' ')
for lib in $needed; do
  case "$lib" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*) ;;
    # glibc's own, where the functions pinned to their pre-2.34 versions
    # lived (interpose/glibc_baseline.h).
    libdl.so.2|libpthread.so.0) ;;
    # Sanitized test builds only (cmake/sanitize.cmake sets OOMTRACE_SANITIZE).
    libasan.so.*|libubsan.so.*|libtsan.so.*|libclang_rt.*)
      [ -n "${OOMTRACE_SANITIZE:-}" ] || { echo "unexpected dependency: $lib (needed: $needed)"; exit 1; } ;;
    *) echo "unexpected dependency: $lib (needed: $needed)"; exit 1 ;;
  esac
done
echo "exports and dependencies as expected: $(echo "$actual" | wc -l) symbols; needs $needed"
