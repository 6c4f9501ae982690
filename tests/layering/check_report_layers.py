#!/usr/bin/env python3
"""Checks that report/'s folders include one another in one direction only.

A folder may include its own files and those of the folders listed before it,
never one listed after it: the analysis never includes a renderer, the
model of a PyTorch snapshot never includes the analysis of a trace. Also holds
the architecture's rule that interpose/ and report/ never include each other.
"""
import pathlib
import re
import sys

# Lowest first.
REPORT_LAYERS = ["common", "snapshot", "whatif", "symbols", "verdicts", "messages", "analysis", "render", "merge"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path: str):
    parts = path.split("/")
    if parts[0] != "report" or len(parts) < 3:
        return None
    return parts[1]


def main(root: pathlib.Path) -> int:
    problems = []
    sources = [p for p in root.glob("report/**/*") if p.suffix in (".h", ".cpp")]
    for source in sources:
        relative = source.relative_to(root).as_posix()
        own = layer_of(relative)
        if own is None:
            problems.append(f"{relative}: every file of report/ belongs in one of its folders {REPORT_LAYERS}")
            continue
        if own not in REPORT_LAYERS:
            problems.append(f"{relative}: folder report/{own} is not in this check's list of layers")
            continue
        for included in INCLUDE.findall(source.read_text(errors="replace")):
            if included.startswith("interpose/"):
                problems.append(f"{relative}: includes {included} (report/ never includes interpose/)")
            target = layer_of(included)
            if target is None:
                continue
            if target not in REPORT_LAYERS or REPORT_LAYERS.index(target) > REPORT_LAYERS.index(own):
                problems.append(f"{relative}: report/{own} includes {included}, a layer above it")
    for source in root.glob("interpose/**/*"):
        if source.suffix in (".h", ".cpp", ".c"):
            for included in INCLUDE.findall(source.read_text(errors="replace")):
                if included.startswith("report/"):
                    problems.append(f"{source.relative_to(root)}: includes {included} (interpose/ never includes report/)")
    for problem in problems:
        print(problem)
    print(f"{len(sources)} files of report/ checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
