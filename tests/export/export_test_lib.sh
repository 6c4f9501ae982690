# Shared by the export tests: run the two scenarios on the simulated device
# and export each trace in both formats into $WORK.
#   make_exports OOMTRACE FRAGMENTATION_PROGRAM RUNTIME_PROGRAM
# leaves $WORK/{frag,plain}.{trace,pickle,json}.
. "$(dirname "${BASH_SOURCE[0]}")/../unit/cli_test_lib.sh"

run_scenario() {  # NAME GPU EXIT_CODE PROGRAM MODE
  local name=$1 gpu=$2 code=$3
  shift 3
  run_captured "run_$name" "$OOMTRACE" run --simulate-gpu "$gpu" --dir "$WORK/$name" -- "$@"
  expect_rc "run_$name" "$code"
  local traces=("$WORK/$name"/*.trace)
  [ -f "${traces[0]}" ] || { fail "$name: no trace written"; return; }
  cp "${traces[0]}" "$WORK/$name.trace"
}

make_exports() {
  OOMTRACE=$1
  # The pool API's blocks: a 2 GiB arena with eight 128 MiB holes, then 512 MiB fails.
  run_scenario frag 2304MiB 1 "$2" pool_api
  # Plain cudaMalloc: sixteen 1 GiB allocations fill the device, the next
  # fails, three are freed and 1 GiB is allocated again: 14 segments remain.
  run_scenario plain 16GiB 0 "$3" recovered
  for name in frag plain; do
    run_captured "pickle_$name" "$OOMTRACE" export --format torch-snapshot "$WORK/$name.trace" -o "$WORK/$name.pickle"
    expect_rc "pickle_$name" 0
    run_captured "perfetto_$name" "$OOMTRACE" export --format perfetto "$WORK/$name.trace" -o "$WORK/$name.json"
    expect_rc "perfetto_$name" 0
  done
}

GiB=$((1 << 30))
MiB=$((1 << 20))
