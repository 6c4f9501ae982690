#!/usr/bin/env bash
# `oomtrace export` as a user runs it: both formats from a trace with pool-API
# blocks and from a plain one; the pickle reads back through oomtrace's own
# snapshot reader, the JSON passes the trace-event format checker; bad input
# is one error line and a non-zero exit.
# Usage: export_cli_test.sh OOMTRACE SCENARIO_FRAGMENTATION SCENARIO_RUNTIME
set -u
HERE=$(dirname "$0")
. "$HERE/export_test_lib.sh"
make_exports "$1" "$2" "$3"

# (b) the pickle through oomtrace's reader: the segments and the history.
run_captured report_frag "$OOMTRACE" report --format json "$WORK/frag.pickle"
expect_rc report_frag 0
python3 - "$WORK/report_frag.out" <<'PY' || fail "frag: the snapshot's report is not as expected: $(stdout_of report_frag | head -c 3000)"
import json, sys
report = json.load(open(sys.argv[1]))
(device,) = report["pytorch"][0]["devices"]
assert device["reserved_bytes"] == 2 << 30, device
assert device["allocated_bytes"] == 1 << 30, device
assert device["cached_free_bytes"] == 1 << 30, device
PY
run_captured report_frag_text "$OOMTRACE" report "$WORK/frag.pickle"
expect_in report_frag_text out "2.00 GiB reserved in 1 segment"
expect_in report_frag_text out "allocated: 1.00 GiB in 8 blocks"
expect_in report_frag_text out "History: 34 events (16 alloc, 8 free_requested, 8 free_completed, 1"
expect_in report_frag_text out "512.00 MiB requested, 256.00 MiB free"
run_captured report_plain "$OOMTRACE" report "$WORK/plain.pickle"
expect_rc report_plain 0
expect_in report_plain out "14.00 GiB reserved in 14 segments"
expect_in report_plain out "History: 44 events (17 alloc, 3 free_requested, 3 free_completed, 17"

# (c) the Perfetto JSON: valid, a reserved counter per GPU, allocated only
# where the pool API said what was in use, an instant per failure.
python3 "$HERE/check_perfetto.py" "$WORK/frag.json" --counter "GPU 0 reserved" --counter "GPU 0 allocated" \
  --instant "cudaMalloc out of memory" >"$WORK/check_frag.out" 2>&1 || fail "frag.json: $(cat "$WORK/check_frag.out")"
python3 "$HERE/check_perfetto.py" "$WORK/plain.json" --counter "GPU 0 reserved" --no-counter "GPU 0 allocated" \
  --instant "cudaMalloc out of memory" >"$WORK/check_plain.out" 2>&1 || fail "plain.json: $(cat "$WORK/check_plain.out")"
python3 - "$WORK/frag.json" <<'PY' || fail "frag.json: the figures are not the run's"
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
def last(name):
    return [e for e in events if e["name"] == name][-1]["args"]["bytes"]
assert last("GPU 0 reserved") == 2 << 30
assert last("GPU 0 allocated") == 1 << 30
(oom,) = [e for e in events if e["ph"] == "i"]
assert oom["s"] == "p" and oom["args"]["size"] == 512 << 20 and oom["args"]["api"] == "cudaMalloc", oom
PY
python3 - "$WORK/plain.json" <<'PY' || fail "plain.json: reserved does not follow the frees"
import json, sys
reserved = [e["args"]["bytes"] for e in json.load(open(sys.argv[1]))["traceEvents"] if e["name"] == "GPU 0 reserved"]
assert max(reserved) == 16 << 30 and reserved[-1] == 14 << 30 and (13 << 30) in reserved, reserved
PY
# The checker itself fails on what the format forbids.
printf '{"traceEvents":[{"name":"c","ph":"C","ts":"1","pid":1,"tid":0,"args":{"bytes":"x"}},{"name":"i","ph":"i","s":"q","ts":1,"pid":1,"tid":0}]}' >"$WORK/bad.json"
if python3 "$HERE/check_perfetto.py" "$WORK/bad.json" >"$WORK/check_bad.out" 2>&1; then
  fail "the checker accepted a string ts, a string counter value and scope q"
fi
for problem in "'ts' missing or not a number" "counter value 'bytes' is not a number" "instant scope 'q'"; do
  grep -qF "$problem" "$WORK/check_bad.out" || fail "the checker did not report: $problem"
done

# Standard output works when it is not a terminal, and gives the same bytes.
"$OOMTRACE" export --format torch-snapshot "$WORK/frag.trace" >"$WORK/stdout.pickle" 2>"$WORK/stdout.err" ||
  fail "torch-snapshot to a pipe: $(cat "$WORK/stdout.err")"
cmp -s "$WORK/stdout.pickle" "$WORK/frag.pickle" || fail "torch-snapshot to standard output differs from -o"

# Bad input: one line, non-zero.
printf 'not a trace\n' >"$WORK/notes.txt"
run_captured not_trace "$OOMTRACE" export --format perfetto "$WORK/notes.txt"
expect_rc not_trace 1
expect_one_error_line not_trace "notes.txt"
run_captured missing "$OOMTRACE" export --format perfetto "$WORK/missing.trace"
expect_rc missing 1
expect_one_error_line missing "missing.trace"
run_captured a_pickle "$OOMTRACE" export --format perfetto "$WORK/frag.pickle"
expect_rc a_pickle 1
expect_one_error_line a_pickle "is a PyTorch snapshot already"
run_captured unknown_format "$OOMTRACE" export --format pprof "$WORK/frag.trace"
expect_rc unknown_format 2
expect_one_error_line unknown_format "pprof"
run_captured no_format "$OOMTRACE" export "$WORK/frag.trace"
expect_rc no_format 2
expect_one_error_line no_format "--format"
run_captured unwritable "$OOMTRACE" export --format perfetto "$WORK/frag.trace" -o "$WORK/no/such/dir/out.json"
expect_rc unwritable 1
expect_one_error_line unwritable "cannot write $WORK/no/such/dir/out.json"
# The pickle never goes to a terminal: a pseudo-terminal stands in for one.
python3 - "$OOMTRACE" "$WORK/frag.trace" >"$WORK/tty.out" 2>&1 <<'PY' || fail "terminal: $(cat "$WORK/tty.out")"
import os, pty, subprocess, sys
leader, follower = pty.openpty()
done = subprocess.run([sys.argv[1], "export", "--format", "torch-snapshot", sys.argv[2]],
                      stdout=follower, stderr=subprocess.PIPE, timeout=20)
os.close(follower)
err = done.stderr.decode()
assert done.returncode == 2, (done.returncode, err)
assert err.startswith("oomtrace: error: ") and err.count("\n") == 1 and "-o FILE" in err, err
PY
exit $FAILED
