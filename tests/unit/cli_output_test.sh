#!/usr/bin/env bash
# -o FILE on every command that prints a result: the file holds exactly what
# standard output would have, nothing is printed there instead, an existing
# file is replaced whole, and an unwritable path is one error line.
# Usage: cli_output_test.sh /path/to/oomtrace /path/to/noop_preload.so SNAPSHOT.pickle
set -u
OOMTRACE=$1
NOOP=$2
SNAPSHOT=$3
. "$(dirname "$0")/cli_test_lib.sh"
unset OOMTRACE_DIR LD_PRELOAD

write_trace "$WORK/small.trace" "$HEADER_V1$TRAILER_EXIT"

# expect_same_as_stdout NAME ARGS...: the command once to stdout, once with
# -o; the two outputs must be identical and the -o run silent on stdout.
expect_same_as_stdout() {
  local name=$1
  shift
  run_captured "$name.stdout" "$OOMTRACE" "$@"
  run_captured "$name.file" "$OOMTRACE" "$@" -o "$WORK/$name.result"
  expect_rc "$name.file" "$(rc_of "$name.stdout")"
  [ -s "$WORK/$name.result" ] || { fail "$name: -o wrote nothing"; return; }
  [ ! -s "$WORK/$name.file.out" ] || fail "$name: -o still printed to stdout: $(stdout_of "$name.file")"
  cmp -s "$WORK/$name.stdout.out" "$WORK/$name.result" || fail "$name: -o file differs from standard output"
}

expect_same_as_stdout report_text report "$WORK/small.trace"
expect_same_as_stdout report_json report --format json "$WORK/small.trace"
expect_same_as_stdout report_snapshot report "$SNAPSHOT"
expect_same_as_stdout explain explain "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.50 GiB is free."
expect_same_as_stdout whatif whatif "$SNAPSHOT"

# Replaced whole, never appended to.
printf 'an old report that is much longer than the new one\n%.0s' {1..200} >"$WORK/old.txt"
run_captured replace "$OOMTRACE" report "$WORK/small.trace" -o "$WORK/old.txt"
expect_rc replace 0
cmp -s "$WORK/report_text.stdout.out" "$WORK/old.txt" || fail "replace: the old file's content survived"
ls "$WORK"/old.txt.partial.* >/dev/null 2>&1 && fail "replace: a .partial file was left behind"

run_captured unwritable "$OOMTRACE" report "$WORK/small.trace" -o "$WORK/no/such/folder/report.txt"
expect_rc unwritable 1
expect_one_error_line unwritable "$WORK/no/such/folder/report.txt"

run_captured write_and_output "$OOMTRACE" report --write "$WORK/small.trace" -o "$WORK/x.txt"
expect_rc write_and_output 2
expect_one_error_line write_and_output "--write"

# run -o: the reports of the run go to the file, one note says where.
OOMTRACE_LIBRARY=$NOOP run_captured run_output "$OOMTRACE" run --dir "$WORK/run" -o "$WORK/run.txt" -- true
expect_rc run_output 0
[ -s "$WORK/run.txt" ] || fail "run_output: -o wrote nothing"
expect_in run_output err "report of the run: $WORK/run.txt"

# detach -o without an attached process: one line, nothing written.
sleep 30 &
sleeper=$!
run_captured detach_output "$OOMTRACE" detach "$sleeper" -o "$WORK/detach.txt"
kill "$sleeper" 2>/dev/null
expect_rc detach_output 1
expect_one_error_line detach_output
[ ! -e "$WORK/detach.txt" ] || fail "detach_output: wrote a file without a report"

for command in report explain whatif export merge run attach detach; do
  "$OOMTRACE" "$command" --help 2>&1 | grep -q -- "-o,--output" || fail "$command --help does not offer -o,--output"
done

exit $FAILED
