#!/usr/bin/env python3
"""OOMTRACE_STACKS=cfi end to end: unwind_scenario (built without frame
pointers, one allocation from inside a qsort callback) runs under
`oomtrace run --simulate-gpu`, once with the cached CFI unwinder and once
with libgcc's (OOMTRACE_STACKS=dwarf). The live blocks' stacks in the report
must reach the program's own functions and main, hold no frame of
liboomtrace.so, and be the same stacks both times."""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile


def live_stacks(args, stacks_setting, root):
    """The stacks of the blocks live at exit, as the JSON report names them."""
    run_dir = os.path.join(root, "stacks-" + stacks_setting)
    os.makedirs(run_dir)
    env = dict(os.environ, OOMTRACE_STACKS=stacks_setting)
    env.pop("LD_PRELOAD", None)
    done = subprocess.run([args.cli, "run", "--simulate-gpu", "1GiB", "--dir", run_dir, "--", args.program],
                          env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"unwind_scenario under STACKS={stacks_setting} exited {done.returncode}:\n{done.stderr}")
    if "OOMTRACE_STACKS" in done.stderr:
        raise SystemExit(f"OOMTRACE_STACKS={stacks_setting} was refused:\n{done.stderr}")
    traces = glob.glob(os.path.join(run_dir, "oomtrace.*.trace"))
    if len(traces) != 1:
        raise SystemExit(f"expected one trace in {run_dir}, found {traces}\n{done.stderr}")
    report = subprocess.run([args.cli, "report", "--format", "json", traces[0]], capture_output=True, text=True,
                            timeout=120)
    if report.returncode != 0:
        raise SystemExit(f"oomtrace report failed: {report.stderr}")
    stacks = []
    for device in json.loads(report.stdout)["live_at_end"]:
        stacks.extend(allocation["stack"] for allocation in device["top"])
    return sorted(stacks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--program", required=True)
    args = parser.parse_args()
    failures = []

    def expect(condition, what, detail):
        print(("ok: " if condition else "FAIL: ") + what)
        if not condition:
            failures.append(what)
            print(json.dumps(detail, indent=1), file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="oomtrace-unwind-") as root:
        cached = live_stacks(args, "cfi", root)
        unwinder = live_stacks(args, "dwarf", root)
    expect(len(cached) == 5, "five blocks live at exit, each with a stack", cached)
    text = [" | ".join(stack) for stack in cached]
    expect(all("unwind_scenario_allocate" in stack[0] for stack in cached),
           "each stack starts in the program's allocating function", cached)
    expect(all("main at" in line or "main+" in line for line in text), "each stack reaches main", cached)
    expect(sum("unwind_scenario_load_layers" in line for line in text) == 3,
           "three stacks through a caller without frame pointers", cached)
    through_libc = [line for line in text if "unwind_scenario_compare" in line]
    expect(len(through_libc) == 2 and all("(libc.so.6)" in line and "unwind_scenario_sort_and_allocate" in line
                                          for line in through_libc),
           "two stacks through qsort in libc, back into the program", cached)
    expect(not any("liboomtrace" in line for line in text), "no frame of liboomtrace.so", cached)
    expect(cached == unwinder, "the same stacks as OOMTRACE_STACKS=dwarf (libgcc's unwinder)",
           {"cfi": cached, "unwinder": unwinder})
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
