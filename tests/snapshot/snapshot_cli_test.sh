#!/usr/bin/env bash
# `oomtrace report` given a PyTorch memory snapshot instead of a trace: a
# real one is reported in text and JSON; a hostile or broken one is refused
# with exactly one line on stderr and exit code 1, and nothing it names runs.
# Usage: snapshot_cli_test.sh /path/to/oomtrace /path/to/tests/fixtures/torch-snapshots
set -u
OOMTRACE=$1
FIXTURES=$2
. "$(dirname "$0")/../unit/cli_test_lib.sh"

EOR="$FIXTURES/eor_nn_snapshot.pickle"

run_captured json "$OOMTRACE" report --format json "$EOR"
expect_rc json 0
expect_in json out '"input": "torch_snapshot"'
expect_in json out '"reserved_bytes": 134217728'
expect_in json out '"allocated_bytes": 48760832'
expect_in json out '"largest_free_block_bytes": 20971520'
[ -s "$WORK/json.err" ] && fail "json: stderr is not empty: $(stderr_of json)"

run_captured text "$OOMTRACE" report "$EOR"
expect_rc text 0
expect_in text out "GPU 0: 128.00 MiB reserved in 10 segments (6 large, 4 small)"
expect_in text out "Full report: oomtrace report --format json $EOR"

run_captured legacy "$OOMTRACE" report --format json "$FIXTURES/yiyi_oom_snapshot.pickle"
expect_rc legacy 0
expect_in legacy out '"format": "legacy"'

# pickle.dumps of an object whose __reduce__ is (os.system, ("touch <file>",)):
# loading it with Python's pickle would create the file.
MARKER="$WORK/pwned"
command=$(printf 'touch %s' "$MARKER")
length=$(printf '%08x' ${#command})
le_length="\\x${length:6:2}\\x${length:4:2}\\x${length:2:2}\\x${length:0:2}"
printf "\\x80\\x02cposix\\nsystem\\nq\\x00X${le_length}%sq\\x01\\x85q\\x02Rq\\x03." "$command" >"$WORK/evil.pickle"
run_captured evil "$OOMTRACE" report "$WORK/evil.pickle"
expect_rc evil 1
expect_one_error_line evil "refusing to load: the pickle calls posix.system; only plain data is read"
expect_in evil err "$WORK/evil.pickle"
[ -e "$MARKER" ] && fail "evil: the pickle's command ran"
[ -s "$WORK/evil.out" ] && fail "evil: stdout is not empty: $(stdout_of evil)"

run_captured evil_json "$OOMTRACE" report --format json "$WORK/evil.pickle"
expect_rc evil_json 1
expect_one_error_line evil_json "refusing to load"

head -c 4000 "$EOR" >"$WORK/cut.pickle"
run_captured cut "$OOMTRACE" report "$WORK/cut.pickle"
expect_rc cut 1
expect_one_error_line cut "not a readable pickle"

printf '\x80\x02]q\x00h\x00a.' >"$WORK/cycle.pickle"
run_captured cycle "$OOMTRACE" report "$WORK/cycle.pickle"
expect_rc cycle 1
expect_one_error_line cycle "puts a container inside itself"

printf '\x80\x02}q\x00.' >"$WORK/empty_dict.pickle"
run_captured not_a_snapshot "$OOMTRACE" report "$WORK/empty_dict.pickle"
expect_rc not_a_snapshot 1
expect_one_error_line not_a_snapshot 'no "segments"'

run_captured write_snapshot "$OOMTRACE" report --write "$EOR"
expect_rc write_snapshot 1
expect_one_error_line write_snapshot "--write takes a trace"

exit $FAILED
