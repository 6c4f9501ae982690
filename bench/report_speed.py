#!/usr/bin/env python3
"""How fast oomtrace reads a long trace: report (text, JSON, HTML), export
(torch-snapshot, Perfetto) and merge, each on one synthetic trace of N events
(ten million by default; the target is under 10 s each on a 2-core machine).

Prints one table measured in one run: seconds, events per second, the peak
memory of the command and the time as a share of the 10 s target. Timings
are never asserted (machines are shared and noisy); a command that fails or
writes nothing is, so the smoke test in CTest catches a broken benchmark.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import time

TARGET_SECONDS = 10.0


def run_timed(command):
    """Runs a command; returns (seconds, peak RSS in MiB, exit status, stderr)."""
    started = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_text = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    return seconds, usage.ru_maxrss / 1024.0, child.returncode, stderr_text


def commands_available(oomtrace):
    """Which of the measured commands this build has (the table says when one is missing)."""
    def help_of(*words):
        done = subprocess.run([oomtrace, *words, "--help"], capture_output=True, text=True)
        return done.stdout + done.stderr if done.returncode == 0 else ""
    report_help = help_of("report")
    return {
        "html": "html" in report_help,
        "export": bool(help_of("export")),
        "merge": bool(help_of("merge")),
    }


def measured_commands(oomtrace, trace, work, available):
    out = work / "out"
    out.mkdir(exist_ok=True)
    merge_dir = work / "merge"
    merge_dir.mkdir(exist_ok=True)
    linked = merge_dir / trace.name
    if not linked.exists():
        os.link(trace, linked) if trace.stat().st_dev == merge_dir.stat().st_dev else linked.symlink_to(trace)
    rows = [
        ("report --format text", [oomtrace, "report", str(trace), "-o", str(out / "report.txt")], out / "report.txt"),
        ("report --format json", [oomtrace, "report", "--format", "json", str(trace), "-o", str(out / "report.json")],
         out / "report.json"),
    ]
    if available["html"]:
        rows.append(("report --format html",
                     [oomtrace, "report", "--format", "html", str(trace), "-o", str(out / "report.html")],
                     out / "report.html"))
    if available["export"]:
        rows.append(("export --format torch-snapshot",
                     [oomtrace, "export", "--format", "torch-snapshot", str(trace), "-o", str(out / "snapshot.pickle")],
                     out / "snapshot.pickle"))
        rows.append(("export --format perfetto",
                     [oomtrace, "export", "--format", "perfetto", str(trace), "-o", str(out / "perfetto.json")],
                     out / "perfetto.json"))
    if available["merge"]:
        rows.append(("merge", [oomtrace, "merge", str(merge_dir), "-o", str(out / "merge.txt")], out / "merge.txt"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oomtrace", required=True)
    parser.add_argument("--generator", required=True, help="bench/large_trace")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--work-dir", required=True)
    args = parser.parse_args()

    work = pathlib.Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    trace = work / f"oomtrace.bench-host.{args.events}.trace"
    if not trace.exists():
        subprocess.run([args.generator, str(trace), str(args.events)], check=True, stdout=subprocess.DEVNULL)
    size_mib = trace.stat().st_size / (1 << 20)
    available = commands_available(args.oomtrace)
    print(f"report speed on {args.events:,} events ({size_mib:.0f} MiB trace); target < {TARGET_SECONDS:.0f} s each")
    print(f"{'command':34} {'seconds':>8} {'events/s':>12} {'peak MiB':>9} {'of target':>9}")
    failures = []
    for name, command, output in measured_commands(args.oomtrace, trace, work, available):
        if output.exists():
            output.unlink()
        seconds, peak_mib, status, stderr_text = run_timed(command)
        if status != 0 or not output.exists() or output.stat().st_size == 0:
            failures.append(f"{name}: exit {status}: {stderr_text.strip()[:300]}")
            print(f"{name:34} {'failed':>8}")
            continue
        rate = args.events / seconds if seconds > 0 else float("inf")
        print(f"{name:34} {seconds:8.2f} {rate:12,.0f} {peak_mib:9.0f} {seconds / TARGET_SECONDS:8.0%}")
    for missing in [k for k, v in available.items() if not v]:
        print(f"(not measured: this build has no {missing})")
    for failure in failures:
        print(f"report_speed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
