#!/usr/bin/env bash
# `oomtrace run`: environment for the library, exit codes, signal
# forwarding and the summary of the traces a run wrote. A do-nothing
# preload library stands in for liboomtrace.so.
# Usage: cli_run_test.sh /path/to/oomtrace /path/to/noop_preload.so
set -u
OOMTRACE=$1
NOOP=$2
. "$(dirname "$0")/cli_test_lib.sh"
export OOMTRACE_LIBRARY=$NOOP
unset OOMTRACE_DIR LD_PRELOAD

OOMTRACE_LIBRARY=/nonexistent/liboomtrace.so run_captured no_library "$OOMTRACE" run -- true
expect_rc no_library 1
expect_one_error_line no_library "/nonexistent/liboomtrace.so"

run_captured exit_code "$OOMTRACE" run -- sh -c 'exit 3'
expect_rc exit_code 3

run_captured killed_child "$OOMTRACE" run -- sh -c 'kill -TERM $$'
expect_rc killed_child 143

run_captured not_found "$OOMTRACE" run -- /nonexistent/program --flag
expect_rc not_found 127
expect_one_error_line not_found "/nonexistent/program"

# What the traced program sees.
LD_PRELOAD=$NOOP run_captured environment "$OOMTRACE" run --dir "$WORK/new/out" -- \
  sh -c 'printf "%s\n%s\n%s\n" "$LD_PRELOAD" "$OOMTRACE_DIR" "$OOMTRACE_CLI" >"$OOMTRACE_DIR/env"'
expect_rc environment 0
if [ -f "$WORK/new/out/env" ]; then
  [ "$(sed -n 1p "$WORK/new/out/env")" = "$NOOP:$NOOP" ] || fail "environment: LD_PRELOAD is '$(sed -n 1p "$WORK/new/out/env")'"
  [ "$(sed -n 2p "$WORK/new/out/env")" = "$WORK/new/out" ] || fail "environment: OOMTRACE_DIR is '$(sed -n 2p "$WORK/new/out/env")'"
  [ "$(sed -n 3p "$WORK/new/out/env")" = "$(readlink -f "$OOMTRACE")" ] || fail "environment: OOMTRACE_CLI is '$(sed -n 3p "$WORK/new/out/env")'"
else
  fail "environment: the command did not run in the new --dir"
fi

# --simulate-gpu: the simulated device's configuration and libraries, the
# runtimes preloaded after the library; a bad spec is one line and exit 2.
run_captured simulated "$OOMTRACE" run --simulate-gpu 2x24GiB,others=6GiB --dir "$WORK/sim" -- \
  sh -c 'printf "%s\n" "$FAKE_CUDA_DEVICES" "$FAKE_CUDA_TOTAL_MIB" "$FAKE_CUDA_OTHER_MIB" \
         "$OOMTRACE_SIMULATED_GPU" "$LD_PRELOAD" "$LD_LIBRARY_PATH" >"$OOMTRACE_DIR/env"'
expect_rc simulated 0
simulated_libraries="$(dirname "$(readlink -f "$OOMTRACE")")/fake_cuda"
if [ -f "$WORK/sim/env" ]; then
  [ "$(sed -n 1,4p "$WORK/sim/env" | tr '\n' ' ')" = "2 24576 6144 2x24GiB,others=6GiB " ] ||
    fail "simulated: device settings are '$(sed -n 1,4p "$WORK/sim/env" | tr '\n' ' ')'"
  [ "$(sed -n 5p "$WORK/sim/env")" = "$NOOP:$simulated_libraries/libcudart.so.13:$simulated_libraries/libcudart.so.12:$simulated_libraries/libcupti.so.13:$simulated_libraries/libcupti.so.12" ] ||
    fail "simulated: LD_PRELOAD is '$(sed -n 5p "$WORK/sim/env")'"
  case "$(sed -n 6p "$WORK/sim/env")" in
    "$simulated_libraries"*) ;;
    *) fail "simulated: LD_LIBRARY_PATH is '$(sed -n 6p "$WORK/sim/env")'" ;;
  esac
else
  fail "simulated: the command did not run"
fi
for spec in 0GiB 17x8GiB 8GiB,others=9GiB 8GiB,spare=1GiB lots 8XiB; do
  run_captured "bad_spec_$spec" "$OOMTRACE" run --simulate-gpu "$spec" -- true
  expect_rc "bad_spec_$spec" 2
  expect_one_error_line "bad_spec_$spec" "--simulate-gpu $spec"
done

# A TERM sent to oomtrace reaches the program, whose exit code comes back.
# (No `timeout` wrapper here: the TERM must reach oomtrace itself; CTest's
# time limit guards against a hang.)
"$OOMTRACE" run -- sh -c 'trap "exit 7" TERM; touch "$0.ready"; while :; do sleep 0.05; done' "$WORK/wrapped" \
  >/dev/null 2>&1 &
WRAPPER=$!
for _ in $(seq 100); do [ -f "$WORK/wrapped.ready" ] && break; sleep 0.05; done
kill -TERM "$WRAPPER"
wait "$WRAPPER"
FORWARDED=$?
[ "$FORWARDED" = 7 ] || fail "forwarding: exit code $FORWARDED, expected 7 from the trapped TERM"

# Traces written during the run are summarized; older ones are not.
mkdir -p "$WORK/traces"
write_trace "$WORK/traces/oomtrace.oldhost.1.trace" "$HEADER_V1$TRAILER_EXIT"
touch -d '2001-01-01' "$WORK/traces/oomtrace.oldhost.1.trace"
run_captured clean_run "$OOMTRACE" run --dir "$WORK/traces" -- \
  sh -c "printf '$HEADER_V1$TRAILER_EXIT' >\"\$OOMTRACE_DIR/oomtrace.test.host.\$\$.trace\""
expect_rc clean_run 0
expect_in clean_run err "no out-of-memory failure (0 allocations); full report: oomtrace report $WORK/traces/oomtrace.test.host."
grep -q oldhost "$WORK/clean_run.err" && fail "clean_run: reported a trace older than the run"

# A trace without trailer: the process was killed; its report is written.
mkdir -p "$WORK/killed"
run_captured killed_trace "$OOMTRACE" run --dir "$WORK/killed" -- \
  sh -c "printf '$HEADER_V1' >\"\$OOMTRACE_DIR/oomtrace.h.\$\$.trace\""
expect_rc killed_trace 0
expect_in killed_trace err "ended without closing the trace"
expect_in killed_trace err "Full report: oomtrace report --format json $WORK/killed/oomtrace.h."
ls "$WORK"/killed/oomtrace.h.*.report.txt >/dev/null 2>&1 || fail "killed_trace: no report written for the killed trace"

exit $FAILED
