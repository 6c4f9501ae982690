#!/usr/bin/env bash
# A trace of millions of events exported to Perfetto: valid, downsampled to
# a bounded number of counter points, and quick.
# Usage: export_large_test.sh OOMTRACE LARGE_TRACE_GENERATOR EVENTS
set -u
HERE=$(dirname "$0")
. "$HERE/../unit/cli_test_lib.sh"
OOMTRACE=$1
"$2" "$WORK/large.trace" "$3" >/dev/null || { echo "FAIL: the generator failed"; exit 1; }
start=$(date +%s%N)
"$OOMTRACE" export --format perfetto "$WORK/large.trace" -o "$WORK/large.json" 2>"$WORK/export.err" ||
  fail "export: $(cat "$WORK/export.err")"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "perfetto export of $3 events: ${elapsed_ms} ms, $(stat -c %s "$WORK/large.json") bytes"
# Generous for a shared test machine; measured far below (docs/exports.md).
[ "$elapsed_ms" -lt 30000 ] || fail "export took ${elapsed_ms} ms"
# Two counters, at most three points per span each, plus a few others.
python3 "$HERE/check_perfetto.py" "$WORK/large.json" --counter "GPU 0 reserved" --counter "GPU 0 allocated" \
  --instant "out of memory" --max-events 60100 >"$WORK/check.out" 2>&1 || fail "large.json: $(cat "$WORK/check.out")"
exit $FAILED
