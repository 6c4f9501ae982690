#!/usr/bin/env bash
# liboomtrace.so must export exactly its hooks and dlsym (unversioned), and
# depend on nothing but glibc and the C++ runtime, so that it loads into any
# process and never clashes with the host's own libraries.
#   library_exports_test.sh LIBRARY HOOKED_FUNCTIONS_DEF
set -euo pipefail
library=$1
def=$2

expected=$( (grep -oE '^\s*X\((Runtime|Driver), [A-Za-z0-9_]+\)' "$def" |
  sed -E 's/.*, ([A-Za-z0-9_]+)\)/\1/'; echo dlsym;
  # The C++ throw hook and the framework bridges' entry points.
  echo __cxa_throw; echo oomtrace_bridge_trace_path; echo oomtrace_bridge_attachment;
  echo oomtrace_bridge_framework_error) | sort)
actual=$(nm -D --defined-only "$library" | awk '{print $3}' | sort)
if [ "$expected" != "$actual" ]; then
  echo "exported symbols differ from hooked_functions.def + dlsym:"
  diff <(echo "$expected") <(echo "$actual") || true
  exit 1
fi

# No version node on any export (a named node hides dlsym from programs
# linked against dlsym@GLIBC_2.34).
if readelf --dyn-syms -W "$library" | awk '$7 != "UND"' | grep -E ' (cu|cuda|dl)[A-Za-z0-9_]*@' ; then
  echo "an export carries a version node"
  exit 1
fi

needed=$(readelf -d "$library" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p' | sort | tr '\n' ' ')
for lib in $needed; do
  case "$lib" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*) ;;
    *) echo "unexpected dependency: $lib (needed: $needed)"; exit 1 ;;
  esac
done
echo "exports and dependencies as expected: $(echo "$actual" | wc -l) symbols; needs $needed"
