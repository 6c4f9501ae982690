"""What the library and its PyTorch bridge cost a real PyTorch loop.

    python3 bench/torch_bridge_overhead.py --oomtrace build/oomtrace --python VENV/bin/python

Runs an allocation-heavy loop (every operation allocates a tensor; the
simulated device runs no kernel, so allocation is most of the work) under
real PyTorch on the simulated GPU, in turns:

  without     the simulated device alone, no liboomtrace.so
  library     oomtrace run, bridge off (OOMTRACE_PYTHON=0)
  default     oomtrace run as shipped: bridge on, PyTorch's history off
  history     OOMTRACE_TORCH_HISTORY=1: allocation history, Python stacks
              for allocations and frees (context="all")
  no-stacks   history without stacks (OOMTRACE_TORCH_HISTORY_CONTEXT=none)
  alloc-only  stacks for allocations only (OOMTRACE_TORCH_HISTORY_CONTEXT=alloc)

Each configuration runs --rounds times, alternating, and the median of the
time per iteration measured inside the process (after a warm-up) is
compared with `without`. Ratios from one run, never a timed test.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

LOOP = r"""
import json, sys, time, torch
iterations = int(sys.argv[1])
x = torch.ones(1024, device="cuda")
def step():
    a = torch.empty(256 * 1024, device="cuda")   # 1 MiB
    b = a * 2                                      # one tensor per operation
    c = b + a
    d = c.sum()
    return d
for _ in range(200):
    step()
start = time.perf_counter()
for _ in range(iterations):
    step()
elapsed = time.perf_counter() - start
json.dump({"ns_per_iteration": elapsed / iterations * 1e9}, open(sys.argv[2], "w"))
"""


def configurations(args):
    simulated = os.path.join(os.path.dirname(os.path.abspath(args.oomtrace)), "fake_cuda")
    bare = {"LD_PRELOAD": "%s/libcudart.so.13:%s/libcudart.so.12" % (simulated, simulated),
            "LD_LIBRARY_PATH": simulated, "FAKE_CUDA_TOTAL_MIB": "16384"}
    traced = [args.oomtrace, "run", "--simulate-gpu", "16GiB", "--dir", args.work, "--"]
    return [
        ("without", [], bare),
        ("library", traced, {"OOMTRACE_PYTHON": "0"}),
        ("default", traced, {}),
        ("history", traced, {"OOMTRACE_TORCH_HISTORY": "1"}),
        ("no-stacks", traced, {"OOMTRACE_TORCH_HISTORY": "1", "OOMTRACE_TORCH_HISTORY_CONTEXT": "none"}),
        ("alloc-only", traced, {"OOMTRACE_TORCH_HISTORY": "1", "OOMTRACE_TORCH_HISTORY_CONTEXT": "alloc"}),
    ]


def run_once(args, prefix, extra_env, script):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OOMTRACE_", "FAKE_CUDA_"))}
    environment.pop("PYTORCH_CUDA_ALLOC_CONF", None)
    environment.update(extra_env)
    result = os.path.join(args.work, "result.json")
    command = prefix + [args.python, script, str(args.iterations), result]
    subprocess.run(command, env=environment, check=True, capture_output=True, timeout=600)
    with open(result) as source:
        return json.load(source)["ns_per_iteration"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oomtrace", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.work = tempfile.mkdtemp(prefix="oomtrace-bridge-bench-")
    script = os.path.join(args.work, "loop.py")
    with open(script, "w") as out:
        out.write(LOOP)
    runs = {name: [] for name, _, _ in configurations(args)}
    for _ in range(args.rounds):
        for name, prefix, extra_env in configurations(args):
            runs[name].append(run_once(args, prefix, extra_env, script))
    baseline = statistics.median(runs["without"])
    print("PyTorch loop on the simulated GPU: 4 tensors per iteration, %d iterations, median of %d rounds"
          % (args.iterations, args.rounds))
    print("%-12s %12s %10s %8s" % ("setting", "ns/iteration", "added", "ratio"))
    for name in runs:
        median = statistics.median(runs[name])
        print("%-12s %12.0f %+10.0f %8.3f" % (name, median, median - baseline, median / baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
