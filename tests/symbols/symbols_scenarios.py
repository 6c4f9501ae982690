#!/usr/bin/env python3
"""Native frames read back as function, file and line, end to end.

A C program built with -g -O0 runs out of memory on the simulated device
under `oomtrace run`; its trace's report must name oom_scenario.c and the
line of the allocating call. Then copies of it: stripped of debug
information (function names from .symtab), stripped of everything but the
dynamic symbols of an -rdynamic build, with the debug information split off
(found through .gnu_debuglink, and by build-id in a --debug-dir), moved
away after the run (found with --debug-dir), and replaced by a rebuilt
binary (refused, never misread).
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARK = "symbols-test: allocating call"
FUNCTION = "request_whole_device"


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, condition, what, text=""):
        if not condition:
            self.failures.append(what)
            print(f"FAIL: {what}\n----\n{text}\n----", file=sys.stderr)
        else:
            print(f"ok: {what}")


def allocating_line(source):
    with open(source) as f:
        for number, line in enumerate(f, start=1):
            if MARK in line:
                return number
    raise SystemExit(f"{source} has no line marked '{MARK}'")


def run_program(args, program, run_dir):
    """Runs the program under `oomtrace run` on the simulated device; returns
    (the trace, what `oomtrace run` printed)."""
    os.makedirs(run_dir, exist_ok=True)
    done = subprocess.run([args.cli, "run", "--simulate-gpu", "1GiB", "--dir", run_dir, "--", program],
                          capture_output=True, text=True, timeout=120)
    traces = glob.glob(os.path.join(run_dir, "oomtrace.*.trace"))
    if len(traces) != 1:
        raise SystemExit(f"expected one trace in {run_dir}, found {traces}\n{done.stdout}\n{done.stderr}")
    return traces[0], done.stderr


def report(args, trace, *extra):
    done = subprocess.run([args.cli, "report", *extra, trace], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"oomtrace report {' '.join(extra)} {trace} failed: {done.stderr}")
    return done.stdout


def build_id(objcopy, path, scratch):
    """The hex build-id of an ELF file, read from its note section's bytes."""
    note = os.path.join(scratch, "note.bin")
    subprocess.run([objcopy, "-O", "binary", "--only-section=.note.gnu.build-id", path, note], check=True)
    with open(note, "rb") as f:
        data = f.read()
    name_size, desc_size = int.from_bytes(data[0:4], "little"), int.from_bytes(data[4:8], "little")
    start = 12 + ((name_size + 3) & ~3)
    return data[start:start + desc_size].hex()


def flat(text):
    """The text with its wrapping undone, for sentences a note may break."""
    return " ".join(text.split())


def source_line_pattern(line):
    return re.compile(FUNCTION + r" at \S*oom_scenario\.c:" + str(line) + r" \(oom_scenario\)")


def main():
    parser = argparse.ArgumentParser()
    for option in ("cli", "program", "exported", "rebuilt", "source", "strip", "objcopy"):
        parser.add_argument("--" + option, required=True)
    args = parser.parse_args()
    line = allocating_line(args.source)
    with_line = source_line_pattern(line)
    any_source_line = re.compile(r"oom_scenario\.c:\d+")
    check = Checks()
    root = tempfile.mkdtemp(prefix="oomtrace-symbols-")
    try:
        def copy(source, folder):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            target = os.path.join(root, folder, "oom_scenario")
            shutil.copy2(source, target)
            return target

        # 1. The program as built: its own file and line.
        program = copy(args.program, "plain")
        trace, printed = run_program(args, program, os.path.join(root, "plain-run"))
        check.expect(with_line.search(printed), f"oomtrace run prints oom_scenario.c:{line}", printed)
        text = report(args, trace)
        check.expect(with_line.search(text), f"the report names oom_scenario.c:{line}", text)
        check.expect(re.search(r"main at \S*oom_scenario\.c:\d+ \(oom_scenario\)", text), "main has its line", text)
        check.expect(re.search(r"\.\.\. \d+ frames in libc\.so\.6", text), "libc's frames are folded", text)
        check.expect("File and line of each native frame" not in text, "no hint once symbolized", text)
        as_json = json.loads(report(args, trace, "--format", "json"))
        stack = as_json["failures"][0]["stack"]
        check.expect(any("(libc.so.6)" in frame for frame in stack), "JSON keeps the folded frames", str(stack))
        check.expect(any(with_line.search(frame) for frame in stack), "JSON has the source line", str(stack))
        at_exit = trace[:-len(".trace")] + ".report.txt"
        with open(at_exit) as f:
            written = f.read()
        check.expect(not any_source_line.search(written) and "File and line of each native frame: oomtrace report"
                     in written, "the report written at exit is not symbolized and says how to", written)

        # 2. Stripped of debug information: names from .symtab.
        stripped = copy(args.program, "strip-debug")
        subprocess.run([args.strip, "--strip-debug", stripped], check=True)
        trace, _ = run_program(args, stripped, os.path.join(root, "strip-debug-run"))
        text = report(args, trace)
        check.expect(re.search(FUNCTION + r"\+0x[0-9a-f]+ \(oom_scenario\)", text) and not any_source_line.search(text),
                     "--strip-debug: function+offset from .symtab, no line", text)

        # 3. -rdynamic build stripped of everything: names from .dynsym.
        bare = copy(args.exported, "strip-all")
        subprocess.run([args.strip, "--strip-all", bare], check=True)
        trace, _ = run_program(args, bare, os.path.join(root, "strip-all-run"))
        text = report(args, trace)
        check.expect(re.search(FUNCTION + r"\+0x[0-9a-f]+ \(oom_scenario\)", text),
                     "--strip-all of an -rdynamic build: function+offset from .dynsym", text)

        # 4. Debug information split off, linked by .gnu_debuglink beside it.
        split = copy(args.program, "split")
        debug_file = split + ".debug"
        subprocess.run([args.objcopy, "--only-keep-debug", split, debug_file], check=True)
        subprocess.run([args.objcopy, "--strip-debug", "--add-gnu-debuglink=" + debug_file, split], check=True)
        trace, _ = run_program(args, split, os.path.join(root, "split-run"))
        text = report(args, trace)
        check.expect(with_line.search(text), "split debug file found through .gnu_debuglink", text)
        # ... and only by build-id, in a --debug-dir.
        hex_id = build_id(args.objcopy, split, root)
        by_id = os.path.join(root, "debug-by-id", ".build-id", hex_id[:2])
        os.makedirs(by_id)
        shutil.move(debug_file, os.path.join(by_id, hex_id[2:] + ".debug"))
        text = report(args, trace)
        check.expect(not any_source_line.search(text), "without the debug file, no line", text)
        text = report(args, trace, "--debug-dir", os.path.join(root, "debug-by-id"))
        check.expect(with_line.search(text), "split debug file found by build-id in --debug-dir", text)

        # 5. The binary moved away after the run, as on another machine.
        moved = copy(args.program, "moved")
        trace, _ = run_program(args, moved, os.path.join(root, "moved-run"))
        elsewhere = os.path.join(root, "elsewhere")
        os.makedirs(elsewhere)
        shutil.move(moved, os.path.join(elsewhere, "oom_scenario"))
        text = report(args, trace)
        check.expect("No file for " + moved in flat(text) and not any_source_line.search(text),
                     "a moved binary is named as missing", text)
        text = report(args, trace, "--debug-dir", elsewhere)
        check.expect(with_line.search(text), "a moved binary found by name in --debug-dir", text)

        # 6. Rebuilt since the run: refused, never read with wrong lines.
        rebuilt = copy(args.program, "rebuilt")
        trace, _ = run_program(args, rebuilt, os.path.join(root, "rebuilt-run"))
        shutil.copy2(args.rebuilt, rebuilt)
        text = report(args, trace)
        check.expect("Skipped " + rebuilt in flat(text) and "rebuilt since the run" in flat(text),
                     "a rebuilt binary is skipped, with the reason", text)
        check.expect(not any_source_line.search(text), "a rebuilt binary gives no line", text)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if check.failures:
        print(f"{len(check.failures)} checks failed", file=sys.stderr)
        return 1
    print("all symbolization scenarios passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
