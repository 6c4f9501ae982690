#!/usr/bin/env bash
# `oomtrace` facing bad input: each error is one line on stderr and a
# non-zero exit (2 usage, 1 bad input); never a crash or a hang.
# Usage: cli_errors_test.sh /path/to/oomtrace
set -u
OOMTRACE=$1
. "$(dirname "$0")/cli_test_lib.sh"

run_captured unknown_flag "$OOMTRACE" --bogus
expect_rc unknown_flag 2
expect_one_error_line unknown_flag "--bogus"

run_captured unknown_report_flag "$OOMTRACE" report --bogus "$WORK/x.trace"
expect_rc unknown_report_flag 2
expect_one_error_line unknown_report_flag "--bogus"

run_captured missing_argument "$OOMTRACE" report
expect_rc missing_argument 2
expect_one_error_line missing_argument

run_captured bad_format "$OOMTRACE" report --format xml "$WORK/x.trace"
expect_rc bad_format 2
expect_one_error_line bad_format "xml"

run_captured run_without_command "$OOMTRACE" run
expect_rc run_without_command 2
expect_one_error_line run_without_command

run_captured missing_file "$OOMTRACE" report "$WORK/missing.trace"
expect_rc missing_file 1
expect_one_error_line missing_file "$WORK/missing.trace"

echo "just some text, not a trace at all" >"$WORK/text.trace"
run_captured not_a_trace "$OOMTRACE" report "$WORK/text.trace"
expect_rc not_a_trace 1
expect_one_error_line not_a_trace "is not an oomtrace trace"

write_trace "$WORK/newer.trace" 'OOMTRACE\002\000\001\000\000\000\000\000'
run_captured newer_format "$OOMTRACE" report --format json "$WORK/newer.trace"
expect_rc newer_format 1
expect_one_error_line newer_format "newer than this oomtrace reads"

: >"$WORK/empty.trace"
run_captured empty_file "$OOMTRACE" report "$WORK/empty.trace"
expect_rc empty_file 1
expect_one_error_line empty_file "is empty"

mkdir "$WORK/folder.trace"
run_captured directory "$OOMTRACE" report "$WORK/folder.trace"
expect_rc directory 1
expect_one_error_line directory "not a regular file"

run_captured write_missing "$OOMTRACE" report --write "$WORK/missing.trace"
expect_rc write_missing 1
expect_one_error_line write_missing "$WORK/missing.trace"

# No subcommand: the help, and a usage error.
run_captured no_subcommand "$OOMTRACE"
expect_rc no_subcommand 2
expect_in no_subcommand err "report"

# Help and version succeed.
run_captured help "$OOMTRACE" --help
expect_rc help 0
expect_in help out "run"
expect_in help out "report"
run_captured report_help "$OOMTRACE" report --help
expect_rc report_help 0
expect_in report_help out "--format"
run_captured run_help "$OOMTRACE" run --help
expect_rc run_help 0
expect_in run_help out "--dir"
run_captured version "$OOMTRACE" --version
expect_rc version 0
expect_in version out "oomtrace "

# A good trace: printed, and written beside the trace exactly once.
write_trace "$WORK/oomtrace.h.1.trace" "$HEADER_V1$TRAILER_EXIT"
run_captured good_text "$OOMTRACE" report "$WORK/oomtrace.h.1.trace"
expect_rc good_text 0
[ "$(tail -n 1 "$WORK/good_text.out")" = "Full report: oomtrace report --format json $WORK/oomtrace.h.1.trace" ] ||
  fail "good_text: last line is '$(tail -n 1 "$WORK/good_text.out")'"
run_captured good_json "$OOMTRACE" report --format json "$WORK/oomtrace.h.1.trace"
expect_rc good_json 0
expect_in good_json out '"schema": "oomtrace-report/1"'
run_captured write_once "$OOMTRACE" report --write "$WORK/oomtrace.h.1.trace"
expect_rc write_once 0
[ -f "$WORK/oomtrace.h.1.report.json" ] && [ -f "$WORK/oomtrace.h.1.report.txt" ] || fail "write_once: report files missing"
run_captured write_twice "$OOMTRACE" report --write "$WORK/oomtrace.h.1.trace"
expect_rc write_twice 1
expect_one_error_line write_twice "already exists"

exit $FAILED
