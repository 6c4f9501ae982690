#!/usr/bin/env bash
# liboomtrace.so must load on the oldest glibc and libstdc++ it claims
# (OOMTRACE_*_BASELINE in interpose/CMakeLists.txt, stated in the README),
# whatever the build machine has: every symbol version it requires must be
# at most the baseline. A version above it is named with the symbols that
# need it, for glibc_baseline.h / glibc_baseline.cpp or a change of code.
#   library_glibc_baseline_test.sh LIBRARY MAX_GLIBC MAX_GLIBCXX [MAX_CXXABI]
set -euo pipefail
library=$1
max_glibc=$2
max_glibcxx=$3
max_cxxabi=${4:-}

# Whether version $2 is later than version $1 (both dotted numbers).
later_than() {
  [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" = "$2" ]
}

# The versions the dynamic loader checks before running any of the library's
# code: .gnu.version_r, "File: libc.so.6" then "Name: GLIBC_2.17" lines.
requirements=$(readelf -V -W "$library" | awk '
  /Version needs section/ { inside = 1; next }
  /Version (definition|symbols) section/ { inside = 0 }
  inside && /File:/ { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1) }
  inside && /Name:/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print file, $(i + 1) }')
if [ -z "$requirements" ]; then
  echo "no symbol versions found in $library (readelf -V)"
  exit 1
fi

# Symbols taken from other objects as name@VERSION (one '@': imported, or
# copied into an executable; "@@" marks the object's own definitions).
imports=$(readelf --dyn-syms -W "$library" | awk '$8 ~ /[^@]@[^@]/ { print $8 }')

failed=0
refuse() {
  local version=$1 why=$2
  echo "$version: $why; needed by:"
  { echo "$imports" | grep -E "@${version//./\\.}\$" || true; } | sed -E 's/@.*//' | sort -u |
    while read -r symbol; do
      demangled=$(c++filt "$symbol")
      if [ "$demangled" = "$symbol" ]; then echo "  $symbol"; else echo "  $symbol ($demangled)"; fi
    done
  failed=1
}

highest_glibc=0 highest_glibcxx=0 highest_cxxabi=0
while read -r file version; do
  case "$version" in
    GLIBC_[0-9]*)
      number=${version#GLIBC_}
      later_than "$highest_glibc" "$number" && highest_glibc=$number
      if later_than "$max_glibc" "$number"; then refuse "$version" "above the glibc baseline $max_glibc"; fi ;;
    GLIBCXX_[0-9]*)
      number=${version#GLIBCXX_}
      later_than "$highest_glibcxx" "$number" && highest_glibcxx=$number
      if later_than "$max_glibcxx" "$number"; then refuse "$version" "above the libstdc++ baseline GLIBCXX_$max_glibcxx"; fi ;;
    CXXABI_[0-9]*)
      number=${version#CXXABI_}
      later_than "$highest_cxxabi" "$number" && highest_cxxabi=$number
      if [ -n "$max_cxxabi" ] && later_than "$max_cxxabi" "$number"; then
        refuse "$version" "above the libstdc++ baseline CXXABI_$max_cxxabi"
      fi ;;
    GCC_[0-9]*|CXXABI_TM_[0-9]*) ;;  # libgcc_s: GCC 3 and 4 interfaces, in every system
    # GLIBC_PRIVATE, GLIBC_ABI_DT_RELR (-z pack-relative-relocs, glibc 2.36)...
    *) refuse "$version" "not a public glibc or libstdc++ version (from $file)" ;;
  esac
done <<<"$requirements"

# A function pinned to its version from before glibc 2.34 is found, on such
# a glibc, only in the library that had it then: it must be a dependency.
needed=$(readelf -d "$library" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
if later_than "$max_glibc" 2.34; then
  if echo "$imports" | grep -qE '^dl[a-z0-9]*@' && ! grep -qx 'libdl.so.2' <<<"$needed"; then
    echo "imports dl* functions but does not depend on libdl.so.2 (needed before glibc 2.34)"
    failed=1
  fi
  if echo "$imports" | grep -qE '^pthread_[a-z_]*@' && ! grep -qx 'libpthread.so.0' <<<"$needed"; then
    echo "imports pthread_* functions but does not depend on libpthread.so.0 (needed before glibc 2.34)"
    failed=1
  fi
fi

summary="requires glibc $highest_glibc (baseline $max_glibc), GLIBCXX_$highest_glibcxx (baseline $max_glibcxx)"
summary+=", CXXABI_$highest_cxxabi${max_cxxabi:+ (baseline $max_cxxabi)}"
if [ "$failed" != 0 ]; then
  echo "$library $summary: above its baseline"
  exit 1
fi
echo "$library $summary"
