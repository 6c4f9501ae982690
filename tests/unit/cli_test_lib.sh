# Helpers shared by the CLI test scripts. Each check prints what failed and
# sets FAILED; the script exits non-zero at the end if anything failed.
FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oomtrace-cli-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  FAILED=1
}

# run_captured NAME CMD...: runs CMD with a time limit (a hang is a
# failure too), keeping stdout, stderr and the exit code.
run_captured() {
  local name=$1
  shift
  timeout 20 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  echo $? >"$WORK/$name.rc"
}

rc_of() { cat "$WORK/$1.rc"; }
stderr_of() { cat "$WORK/$1.err"; }
stdout_of() { cat "$WORK/$1.out"; }

expect_rc() {  # NAME CODE
  local got
  got=$(rc_of "$1")
  [ "$got" = "$2" ] || fail "$1: exit code $got, expected $2 (stderr: $(stderr_of "$1"))"
}

expect_one_error_line() {  # NAME [TEXT]
  local lines
  lines=$(wc -l <"$WORK/$1.err")
  [ "$lines" = 1 ] || fail "$1: stderr has $lines lines, expected exactly 1: $(stderr_of "$1")"
  grep -q '^oomtrace: error: ' "$WORK/$1.err" || fail "$1: stderr does not start with 'oomtrace: error: ': $(stderr_of "$1")"
  if [ -n "${2:-}" ]; then
    grep -qF -- "$2" "$WORK/$1.err" || fail "$1: stderr lacks '$2': $(stderr_of "$1")"
  fi
}

expect_in() {  # NAME out|err TEXT
  grep -qF -- "$3" "$WORK/$1.$2" || fail "$1: std$2 lacks '$3': $(cat "$WORK/$1.$2")"
}

# Trace files made byte by byte, independent of the writer under test.
HEADER_V1='OOMTRACE\001\000\000\000\000\000\000\000'
TRAILER_EXIT='\177\007\000\000\004exit'
write_trace() {  # PATH BYTES(printf format)
  printf "$2" >"$1"
}
