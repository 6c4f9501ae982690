#!/usr/bin/env python3
"""Instructions per cudaMalloc+cudaFree pair, without the library and with it
in each stack mode, counted by valgrind's callgrind: a figure that does not
move with the machine's noise, unlike nanoseconds.

bench/pair_loop runs an exact number of pairs 20 frames deep; only the
instructions inside each pair are counted (the report at exit grows with the
run), and two runs of different lengths give one pair's instructions by
difference, so what the first pairs pay once (resolving, creating the trace,
interning the stack) cancels out.
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

MODES = [("without", None), ("no stacks", "0"), ("frame pointers", "fp"), ("cached CFI (default)", "1"),
         ("libgcc's unwinder", "dwarf")]
SHORT_RUN, LONG_RUN = 1000, 3000


def instructions(pair_loop, pairs, env, work):
    out = work / f"callgrind.{os.getpid()}.{pairs}.out"
    # Counted inside the pair only: the report at exit grows with the run and
    # would not cancel out.
    command = ["valgrind", "--tool=callgrind", "--toggle-collect=*allocate_and_free*",
               f"--callgrind-out-file={out}", str(pair_loop), str(pairs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    totals = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.M)
    if not totals:
        raise RuntimeError(f"no instruction total in {out}")
    return int(totals.group(1))


def environment(library, fake_cuda_dir, stacks, work):
    env = os.environ.copy()
    env.update({"LD_LIBRARY_PATH": fake_cuda_dir, "FAKE_CUDA_TOTAL_MIB": "1048576", "OOMTRACE_DIR": str(work),
                "OOMTRACE_QUIET": "1"})
    env.pop("LD_PRELOAD", None)
    if stacks is not None:
        env["LD_PRELOAD"] = library
        env["OOMTRACE_STACKS"] = stacks
        # valgrind's launcher execs the program: without this the library
        # would take itself out of LD_PRELOAD on the way (docs/reliability.md).
        env["OOMTRACE_FOLLOW_EXEC"] = "1"
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair-loop", required=True)
    parser.add_argument("--library", required=True)
    parser.add_argument("--fake-cuda-dir", required=True)
    parser.add_argument("--mode", action="append", default=[],
                        help="extra LABEL=OOMTRACE_STACKS value to count as well (repeatable)")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        print("instructions per pair: valgrind not installed; skipped")
        return 0
    modes = MODES + [tuple(extra.split("=", 1)) for extra in args.mode]
    print(f"{'instructions per pair (callgrind, 20 frames deep)':52} {'per pair':>10} {'added':>10}")
    baseline = None
    with tempfile.TemporaryDirectory(prefix="oomtrace-callgrind-") as scratch:
        work = pathlib.Path(scratch)
        for label, stacks in modes:
            env = environment(args.library, args.fake_cuda_dir, stacks, work)
            short = instructions(args.pair_loop, SHORT_RUN, env, work)
            long = instructions(args.pair_loop, LONG_RUN, env, work)
            per_pair = (long - short) / (LONG_RUN - SHORT_RUN)
            if baseline is None:
                baseline = per_pair
                print(f"{label:52} {per_pair:10.0f}")
            else:
                print(f"{label:52} {per_pair:10.0f} {per_pair - baseline:+10.0f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as error:
        print(f"callgrind_pairs: {error}", file=sys.stderr)
        sys.exit(1)
