#!/usr/bin/env bash
# `oomtrace whatif` as a user runs it: the sweep of the largest real
# snapshot prints its table and a ranked recommendation, JSON carries the
# fidelity figures, and every bad input or option is one error line with a
# non-zero exit code.
# Usage: whatif_cli_test.sh /path/to/oomtrace /path/to/tests/fixtures/torch-snapshots
set -u
OOMTRACE=$1
FIXTURES=$2
. "$(dirname "$0")/../unit/cli_test_lib.sh"

FULLSTEP="$FIXTURES/cs336_memory_ctx128_fullstep.pickle"
EOR="$FIXTURES/eor_nn_snapshot.pickle"

run_captured sweep "$OOMTRACE" whatif --sweep "$FULLSTEP"
expect_rc sweep 0
expect_in sweep out "Model fidelity under them: 6771 of 6771 allocations at the recorded address (100.0%), 783 of 783 device allocations reproduced (100.0%)"
expect_in sweep out "settings"
expect_in sweep out "OOM at this capacity"
expect_in sweep out "defaults (recorded)"
expect_in sweep out "max_split_size_mb:256"
expect_in sweep out "roundup_power2_divisions:4"
expect_in sweep out "Ranked (settings that avoid the out-of-memory first, least reserved first; within 2 % of the least, fewest added settings first):"
expect_in sweep out "  1.  expandable_segments:True"
expect_in sweep out "Recommendation: PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True -- predicted peak reserved 51.82 GiB"
[ -s "$WORK/sweep.err" ] && fail "sweep: stderr is not empty: $(stderr_of sweep)"

run_captured json "$OOMTRACE" whatif --format json --set expandable_segments:True --set max_split_size_mb:128 "$EOR"
expect_rc json 0
expect_in json out '"schema": "oomtrace-whatif/1"'
expect_in json out '"allocations_recorded": 1935'
expect_in json out '"allocations_same_address": 1935'
expect_in json out '"segment_allocs_recorded": 7'
expect_in json out '"segment_allocs_reproduced": 7'
expect_in json out '"share": 1.0'
expect_in json out '"settings": "max_split_size_mb:128"'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rows"]) == 3, d["rows"]' "$WORK/json.out" \
  || fail "json: not valid JSON with 3 rows: $(stdout_of json)"

# A capacity below what every setting needs: the OOM is predicted everywhere.
run_captured small "$OOMTRACE" whatif --capacity 64MiB --set expandable_segments:True "$EOR"
expect_rc small 0
expect_in small out "yes (at event"
expect_in small out "Recommendation: no setting tried avoids the out-of-memory at 64.00 MiB"

run_captured bad_set "$OOMTRACE" whatif --set max_split_size_mb:8 "$EOR"
expect_rc bad_set 1
expect_one_error_line bad_set "max_split_size_mb must be at least 20"

run_captured unknown_key "$OOMTRACE" whatif --set expandable:True "$EOR"
expect_rc unknown_key 1
expect_one_error_line unknown_key "unrecognized option 'expandable'"

run_captured bad_capacity "$OOMTRACE" whatif --capacity 12XB "$EOR"
expect_rc bad_capacity 2
expect_one_error_line bad_capacity "--capacity 12XB"

run_captured no_history "$OOMTRACE" whatif "$FIXTURES/yiyi_oom_snapshot.pickle"
expect_rc no_history 1
expect_one_error_line no_history "no allocations to replay"

run_captured missing "$OOMTRACE" whatif "$WORK/does-not-exist.trace"
expect_rc missing 1
expect_one_error_line missing "does-not-exist.trace"

run_captured no_input "$OOMTRACE" whatif
expect_rc no_input 2
expect_one_error_line no_input "oomtrace whatif --help"

exit $FAILED
