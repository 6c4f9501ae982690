#!/usr/bin/env bash
# `oomtrace explain` as a user meets it: a message as arguments or on
# standard input, text or JSON, and a clear answer for what it cannot read.
# Usage: explain_cli_test.sh /path/to/oomtrace FIXTURES_DIR
set -u
OOMTRACE=$1
FIXTURES=$2
. "$(dirname "$0")/../unit/cli_test_lib.sh"

fixture() { ls "$FIXTURES"/"$1"_*.txt; }

# On standard input, text: the report's failure section.
run_captured stdin_text sh -c "'$OOMTRACE' explain < '$(fixture 20)'"
expect_rc stdin_text 0
expect_in stdin_text out "PyTorch: out of memory: 572.00 MiB on GPU 0 (39.49 GiB total, 321.31 MiB free)"
expect_in stdin_text out "Verdict: exhausted"
expect_in stdin_text out "Why: "
expect_in stdin_text out "Try:"
expect_in stdin_text out "cut the batch by at least"

# As an argument, JSON: one object with a failure's fields and the framework.
run_captured argument_json "$OOMTRACE" explain --format json "$(cat "$(fixture 28)")"
expect_rc argument_json 0
python3 - "$WORK/argument_json.out" <<'PY' || fail "argument_json: the JSON is not what was expected: $(cat "$WORK/argument_json.out")"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["recognised"] is True
assert report["framework"] == "pytorch-rocm"
assert report["verdict"] == "limit"
assert report["requested_bytes"] == 2097152
assert report["device_total_bytes"] == 25136296100
assert report["cap"]["bytes"] == 1127428915
assert report["source"] == "message"
for unknown in ("api", "process_segments", "recovered", "time_ns", "thread", "stack"):
    assert report[unknown] is None, unknown
for field in ("device", "device_free_bytes", "process_reserved_bytes", "process_allocated_bytes", "other_bytes",
              "nvml_known", "other_processes", "largest_free_block_bytes", "fragmentation", "explanation",
              "suggestions"):
    assert field in report, field
PY

# An unquoted message arrives as many arguments: they are joined.
run_captured split_words "$OOMTRACE" explain CuPy said: Out of memory allocating 1,024 bytes "(allocated so far: 2,048 bytes)."
expect_rc split_words 0
expect_in split_words out "CuPy: out of memory: 1.00 KiB"

# A message without the device's figures: what it has, and no verdict.
run_captured no_figures "$OOMTRACE" explain --format json "$(cat "$(fixture 41)")"
expect_rc no_figures 0
python3 - "$WORK/no_figures.out" <<'PY' || fail "no_figures: $(cat "$WORK/no_figures.out")"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["framework"] == "tensorflow"
assert report["verdict"] is None
assert report["requested_bytes"] == 128 * 128 * 109 * 109 * 4
assert report["device_total_bytes"] is None
assert "does not say" in report["explanation"]
PY

# Not an out-of-memory message: one clear line, exit 1, no guess.
run_captured not_oom "$OOMTRACE" explain "RuntimeError: CUDA error: device-side assert triggered"
expect_rc not_oom 1
[ "$(cat "$WORK/not_oom.err")" = "oomtrace: not recognised as an out-of-memory message from PyTorch, TensorFlow, JAX or CuPy" ] ||
  fail "not_oom: stderr is not the one line: $(cat "$WORK/not_oom.err")"
[ ! -s "$WORK/not_oom.out" ] || fail "not_oom: text mode printed on stdout: $(cat "$WORK/not_oom.out")"

run_captured not_oom_json "$OOMTRACE" explain --format json "hello"
expect_rc not_oom_json 1
expect_in not_oom_json out '"recognised": false'

# Nothing to read: usage errors, never a hang.
run_captured empty_stdin sh -c "'$OOMTRACE' explain < /dev/null"
expect_rc empty_stdin 2
expect_one_error_line empty_stdin "no message"

if command -v script >/dev/null 2>&1; then
  # A terminal with nothing piped: usage, not a wait for input.
  run_captured tty script -qec "'$OOMTRACE' explain" /dev/null
  expect_rc tty 2
  expect_in tty out "no message"
fi

head -c 1100000 /dev/zero | tr '\0' 'x' >"$WORK/huge.txt"
run_captured too_large sh -c "'$OOMTRACE' explain < '$WORK/huge.txt'"
expect_rc too_large 1
expect_one_error_line too_large "larger than 1 MiB"

run_captured bad_format "$OOMTRACE" explain --format xml "x"
expect_rc bad_format 2
expect_one_error_line bad_format "xml"

run_captured help "$OOMTRACE" explain --help
expect_rc help 0
expect_in help out "standard input"

exit $FAILED
