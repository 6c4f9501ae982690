#!/usr/bin/env python3
"""The report the library writes at exit, after a long run: how long the
exiting process takes to write it, and how much memory it needs beyond the
program's own, for a program that made N events (ten million by default).

bench/pair_loop makes N/2 cudaMalloc+cudaFree pairs (no stacks, so the run
itself is quick) and prints the clock just before exit(); the time from there
to the process's end is the report. The peak memory is the child's maximum
resident set with the library minus the same without it.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

TARGET_MIB = 128
TARGET_EVENTS_PER_S = 10_000_000


def run(pair_loop, pairs, env):
    """Returns (seconds after exit() began, peak RSS MiB)."""
    child = subprocess.Popen([str(pair_loop), str(pairs), "--print-exit-start"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    exit_start_line = child.stdout.readline()
    _, status, usage = os.wait4(child.pid, 0)
    ended = time.monotonic_ns()
    stderr_text = child.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0 or not exit_start_line.strip():
        raise RuntimeError(f"pair_loop exited {os.waitstatus_to_exitcode(status)}: {stderr_text.strip()[-400:]}")
    return (ended - int(exit_start_line)) / 1e9, usage.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair-loop", required=True)
    parser.add_argument("--library", required=True)
    parser.add_argument("--fake-cuda-dir", required=True)
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    pairs = args.events // 2
    with tempfile.TemporaryDirectory(prefix="oomtrace-exit-report-") as scratch:
        env = os.environ.copy()
        env.update({"LD_LIBRARY_PATH": args.fake_cuda_dir, "FAKE_CUDA_TOTAL_MIB": "1048576",
                    "OOMTRACE_DIR": scratch, "OOMTRACE_QUIET": "1", "OOMTRACE_STACKS": "0"})
        env.pop("LD_PRELOAD", None)
        _, without_mib = run(args.pair_loop, pairs, env)
        env["LD_PRELOAD"] = args.library
        seconds, with_mib = run(args.pair_loop, pairs, env)
        traces = list(pathlib.Path(scratch).glob("*.trace"))
        reports = list(pathlib.Path(scratch).glob("*.report.json"))
        if len(traces) != 1 or len(reports) != 1:
            raise RuntimeError(f"expected one trace and one report at exit, found {len(traces)} and {len(reports)}")
        trace_mib = traces[0].stat().st_size / (1 << 20)
    beyond = with_mib - without_mib
    rate = 2 * pairs / seconds if seconds > 0 else float("inf")
    print(f"report at exit after {2 * pairs:,} events ({trace_mib:.0f} MiB trace): {seconds:.2f} s, "
          f"{rate:,.0f} events/s (target >= {TARGET_EVENTS_PER_S:,}: {'holds' if rate >= TARGET_EVENTS_PER_S else 'MISSED'}); "
          f"peak {beyond:.0f} MiB beyond the program's own {without_mib:.0f} MiB "
          f"(target < {TARGET_MIB}: {'holds' if beyond < TARGET_MIB else 'MISSED'})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as error:
        print(f"exit_report_cost: {error}", file=sys.stderr)
        sys.exit(1)
