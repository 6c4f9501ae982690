#!/usr/bin/env bash
# Runs the PyTorch scenarios of tests/torch (the ones the test suite runs on
# the simulated GPU) on this machine's real GPU with its installed PyTorch,
# and writes a table of verdicts and figures for docs/validation.md. Then
# attaches `oomtrace attach` to a PyTorch job mid-run and checks that CUPTI
# saw its expandable segments (tests/attach_scenarios), and reads the real
# traces back as HTML and through both exports (PyTorch's _memory_viz on the
# torch-snapshot one).
#
#   scripts/gpu-validation.sh [--python PYTHON] [--build DIR] [--out FILE]
#
#   --python  a python whose torch sees the GPU (default: python3)
#   --build   where oomtrace and liboomtrace.so are (default: ./build, else
#             ./build-gpu; built here with -DOOMTRACE_BUILD_TESTS=OFF when
#             neither has them). A GPU machine without the build's Debian
#             packages can take a copy made elsewhere:
#               mkdir -p build-gpu && cp -r build/python build-gpu/ &&
#               strip -o build-gpu/oomtrace build/oomtrace &&
#               strip -o build-gpu/liboomtrace.so build/liboomtrace.so
#   --out     the table (default: gpu-validation.md in the current folder)
#
# Fits in 8 minutes on one H100/H200: each scenario is stopped after 10.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=python3
build=""
out=$PWD/gpu-validation.md
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/gpu-validation.sh [--python PYTHON] [--build DIR] [--out FILE]" >&2; exit 2 ;;
  esac
done

if ! "$python" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  echo "gpu-validation: $python has no torch that sees a GPU; pass --python" >&2
  exit 1
fi
if [ -z "$build" ]; then
  for candidate in "$root/build" "$root/build-gpu"; do
    if [ -x "$candidate/oomtrace" ] && [ -f "$candidate/liboomtrace.so" ]; then build=$candidate; break; fi
  done
fi
if [ -z "$build" ]; then
  build=$root/build-gpu
  echo "gpu-validation: building oomtrace into $build (no tests)" >&2
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOOMTRACE_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target oomtrace oomtrace_cli >/dev/null
fi

work=$(mktemp -d /tmp/oomtrace-gpu-validation.XXXXXX)
started=$SECONDS
{
  echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  echo "PyTorch: $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  echo "oomtrace: $("$build/oomtrace" --version)"
  echo "date: $(date -u +%Y-%m-%d)"
  echo
} | tee "$out.head"
status=0
python3 "$root/tests/torch/check_torch_scenarios.py" --real-gpu --oomtrace "$build/oomtrace" --python "$python" \
  --work "$work" --table "$out.table" | tee "$work/checks.log" || status=$?
# `oomtrace attach` joining a PyTorch job mid-run on this GPU: the failure,
# PyTorch's snapshot, and (expandable segments, whose driver pointers
# PyTorch resolved before the attach) the mappings only CUPTI can see.
python3 "$root/tests/attach_scenarios/attach_scenarios.py" --real-gpu --cli "$build/oomtrace" \
  --torch-python "$python" --only torch --only torch-expandable | tee "$work/attach.log" || status=$?
# The readers on real traces: the HTML page, and the exports PyTorch's own
# viewer and Perfetto open (the torch-snapshot one through _memory_viz).
: >"$work/readers.log"
for trace in $(find "$work" -name 'oomtrace.*.trace' | sort | head -4); do
  name=$(basename "$trace" .trace)
  for step in "report --format html $trace -o $work/$name.html" \
              "export --format torch-snapshot $trace -o $work/$name.export.pickle" \
              "export --format perfetto $trace -o $work/$name.perfetto.json"; do
    # shellcheck disable=SC2086
    if "$build/oomtrace" $step 2>>"$work/readers.log"; then
      echo "ok   oomtrace ${step%% -o *}" >>"$work/readers.log"
    else
      echo "FAIL oomtrace ${step%% -o *}" >>"$work/readers.log"; status=1
    fi
  done
  if "$python" -c "import pickle, sys; from torch.cuda import _memory_viz as v; s = pickle.load(open(sys.argv[1], 'rb')); v.segment_plot(s); v.trace_plot(s)" \
      "$work/$name.export.pickle" 2>>"$work/readers.log"; then
    echo "ok   torch.cuda._memory_viz segment_plot and trace_plot on $name.export.pickle" >>"$work/readers.log"
  else
    echo "FAIL torch.cuda._memory_viz on $name.export.pickle" >>"$work/readers.log"; status=1
  fi
done
{
  cat "$out.head" "$out.table"
  echo
  echo "Checks that failed:"
  grep '^FAIL' "$work/checks.log" || echo "none"
  tail -1 "$work/checks.log"
  echo
  echo "oomtrace attach on this GPU (tests/attach_scenarios/attach_scenarios.py --real-gpu):"
  grep -E '^(torch|FAIL)' "$work/attach.log" || true
  tail -1 "$work/attach.log"
  echo
  echo "The HTML report and the exports on these traces:"
  grep -E '^(ok|FAIL) ' "$work/readers.log" || echo "no trace to read"
} >"$out"
rm -f "$out.head" "$out.table"
echo "gpu-validation: $(tail -1 "$work/checks.log") in $((SECONDS - started)) s; table in $out, runs in $work" >&2
exit $status
