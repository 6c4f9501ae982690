#!/usr/bin/env bash
# The exported pickle in PyTorch's hands: pickle.load, then the memory
# visualiser's helpers (torch.cuda._memory_viz: segsum, trace, segment_plot,
# trace_plot) in each PyTorch environment given. Exit 77 (skipped) with none.
# Usage: export_torch_test.sh OOMTRACE SCENARIO_FRAGMENTATION SCENARIO_RUNTIME [PYTHON...]
set -u
HERE=$(dirname "$0")
if [ $# -le 3 ]; then
  echo "no PyTorch environment (OOMTRACE_TORCH_PYTHONS is empty): skipped"
  exit 77
fi
. "$HERE/export_test_lib.sh"
make_exports "$1" "$2" "$3"
shift 3

plain_segments=()
for _ in $(seq 14); do plain_segments+=(--segment "$GiB:$GiB:1"); done
for python in "$@"; do
  "$python" "$HERE/check_torch_snapshot.py" "$WORK/frag.pickle" --segment "$((2 * GiB)):$GiB:16" --oom \
    >"$WORK/viz_frag.out" 2>&1 || fail "$python, frag: $(cat "$WORK/viz_frag.out")"
  "$python" "$HERE/check_torch_snapshot.py" "$WORK/plain.pickle" "${plain_segments[@]}" --oom \
    >"$WORK/viz_plain.out" 2>&1 || fail "$python, plain: $(cat "$WORK/viz_plain.out")"
done
exit $FAILED
