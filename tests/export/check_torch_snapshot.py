#!/usr/bin/env python3
"""Loads a snapshot written by `oomtrace export --format torch-snapshot` the
way PyTorch users do, and runs PyTorch's own memory visualiser helpers on it
(torch.cuda._memory_viz): they must succeed and show the expected segments.

Run with the python of a virtual environment that has PyTorch:
  check_torch_snapshot.py FILE --segment TOTAL:ALLOCATED:BLOCKS ... [--oom]
"""
import argparse
import base64
import json
import pickle
import re
import sys

import torch.cuda._memory_viz as viz


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def html_snapshot(html):
    """The pickle the visualiser page embeds, read back."""
    match = re.search(r'const local_files = (\[.*?\])\n', html)
    if not match:
        fail("the visualiser page embeds no snapshot")
    encoded = json.loads(match.group(1))[0]["base64"]
    return pickle.loads(base64.b64decode(encoded))


def live_blocks_from_trace(snapshot):
    """Replays device_traces from an empty device: the blocks it leaves live."""
    live = {}
    for entries in snapshot["device_traces"]:
        for entry in entries:
            if entry["action"] == "alloc":
                if entry["addr"] in live:
                    fail(f"alloc at {entry['addr']:#x} while a block is live there")
                live[entry["addr"]] = entry["size"]
            elif entry["action"] == "free_completed":
                if live.pop(entry["addr"], None) != entry["size"]:
                    fail(f"free_completed of {entry['addr']:#x} that is not live with that size")
    return live


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--segment", action="append", default=[],
                        help="TOTAL:ALLOCATED:BLOCKS, bytes and a count, one per expected segment")
    parser.add_argument("--oom", action="store_true", help="the trace holds a failed allocation")
    options = parser.parse_args()

    with open(options.file, "rb") as f:
        snapshot = pickle.load(f)
    for key in ("segments", "device_traces"):
        if key not in snapshot:
            fail(f"no {key!r}")

    found = sorted((s["total_size"], s["allocated_size"], len(s["blocks"])) for s in snapshot["segments"])
    wanted = sorted(tuple(int(x) for x in spec.split(":")) for spec in options.segment)
    if found != wanted:
        fail(f"segments (total, allocated, blocks) are {found}, expected {wanted}")

    summary = viz.segsum(snapshot)  # asserts that every segment's blocks add up
    if f"segments: {len(wanted)}\n" not in summary:
        fail(f"segsum does not count {len(wanted)} segments:\n{summary}")
    text = viz.trace(snapshot)
    if "cudaMalloc(" not in text:
        fail(f"trace() shows no segment allocation:\n{text[:2000]}")
    if options.oom and "raise OutOfMemoryError" not in text:
        fail(f"trace() shows no out-of-memory:\n{text[-2000:]}")

    for name, html in (("segment_plot", viz.segment_plot(snapshot)), ("trace_plot", viz.trace_plot(snapshot))):
        embedded = html_snapshot(html)
        addresses = sorted(s["address"] for s in embedded["segments"])
        if addresses != sorted(s["address"] for s in snapshot["segments"]):
            fail(f"{name} embeds other segments: {addresses}")

    live = live_blocks_from_trace(snapshot)
    active = {b["address"]: b["size"] for s in snapshot["segments"] for b in s["blocks"]
              if b["state"] == "active_allocated"}
    if live != active:
        fail(f"the trace leaves {len(live)} blocks live, the segments hold {len(active)} active ones")

    print(f"ok: {len(found)} segments, {sum(len(d) for d in snapshot['device_traces'])} trace entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
