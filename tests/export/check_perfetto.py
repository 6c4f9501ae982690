#!/usr/bin/env python3
"""Validates Chrome trace-event JSON (the JSON Object Format that Perfetto
and chrome://tracing open), as the published Trace Event Format describes
it, and checks what `oomtrace export --format perfetto` promises on top.

Usage: check_perfetto.py FILE [--counter NAME]... [--no-counter NAME]...
                              [--instant TEXT]... [--max-events N]
Exits 0 when valid and every expectation holds; otherwise prints each
problem and exits 1.
"""
import argparse
import json
import numbers
import sys

# Phases of the format; the checks below cover the ones oomtrace writes and
# the required keys of the common others.
KNOWN_PHASES = {"B", "E", "X", "i", "I", "C", "b", "n", "e", "s", "t", "f", "P", "N", "O", "D", "M", "V", "v", "R", "c", "(", ")"}
INSTANT_SCOPES = {"g", "p", "t"}
METADATA_NAMES = {"process_name", "process_labels", "process_sort_index", "thread_name", "thread_sort_index"}


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def event_problems(index, event):
    where = f"traceEvents[{index}]"
    if not isinstance(event, dict):
        return [f"{where}: not an object"]
    problems = []
    for key in ("name", "ph"):
        if not isinstance(event.get(key), str):
            problems.append(f"{where}: '{key}' missing or not a string")
    for key in ("pid", "tid"):
        if not is_int(event.get(key)):
            problems.append(f"{where}: '{key}' missing or not an integer")
    phase = event.get("ph")
    if phase not in KNOWN_PHASES:
        problems.append(f"{where}: unknown phase {phase!r}")
    if phase != "M" and not is_number(event.get("ts")):
        problems.append(f"{where}: 'ts' missing or not a number")
    if "args" in event and not isinstance(event["args"], dict):
        problems.append(f"{where}: 'args' is not an object")
    args = event.get("args", {})
    if phase == "X" and not is_number(event.get("dur")):
        problems.append(f"{where}: complete event without a numeric 'dur'")
    if phase == "C":
        if not args:
            problems.append(f"{where}: counter without args")
        for key, value in args.items():
            if not is_number(value):
                problems.append(f"{where}: counter value {key!r} is not a number: {value!r}")
    if phase in ("i", "I") and "s" in event and event["s"] not in INSTANT_SCOPES:
        problems.append(f"{where}: instant scope {event['s']!r} is not g, p or t")
    if phase == "M":
        if event.get("name") not in METADATA_NAMES:
            problems.append(f"{where}: unknown metadata event {event.get('name')!r}")
        elif event["name"].endswith("_name") and not isinstance(args.get("name"), str):
            problems.append(f"{where}: {event['name']} without a string args.name")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--counter", action="append", default=[], help="a counter track that must be there")
    parser.add_argument("--no-counter", action="append", default=[], help="a counter track that must not be")
    parser.add_argument("--instant", action="append", default=[], help="text some instant's name must contain")
    parser.add_argument("--max-events", type=int, default=None)
    options = parser.parse_args()

    with open(options.file, encoding="utf-8") as f:
        document = json.load(f)
    problems = []
    if not isinstance(document, dict) or not isinstance(document.get("traceEvents"), list):
        print("FAIL: not a JSON object with a traceEvents array")
        return 1
    if document.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        problems.append(f"displayTimeUnit {document['displayTimeUnit']!r} is not ms or ns")
    events = document["traceEvents"]
    for index, event in enumerate(events):
        problems.extend(event_problems(index, event))

    counters = {}
    for event in events:
        if isinstance(event, dict) and event.get("ph") == "C":
            counters.setdefault(event.get("name"), []).append(event.get("ts"))
    for name, times in counters.items():
        if any(not is_number(t) for t in times):
            continue
        if times != sorted(times):
            problems.append(f"counter {name!r}: timestamps go backwards")
    for name in options.counter:
        if name not in counters:
            problems.append(f"no counter track {name!r} (tracks: {sorted(counters)})")
    for name in options.no_counter:
        if name in counters:
            problems.append(f"counter track {name!r} should not be there")
    instants = [e for e in events if isinstance(e, dict) and e.get("ph") in ("i", "I")]
    for text in options.instant:
        if not any(text in e.get("name", "") for e in instants):
            problems.append(f"no instant event named with {text!r}")
    if options.max_events is not None and len(events) > options.max_events:
        problems.append(f"{len(events)} events, more than {options.max_events}")

    for problem in problems[:50]:
        print("FAIL:", problem)
    if problems:
        return 1
    print(f"ok: {len(events)} events, counters {sorted(counters)}, {len(instants)} instants")
    return 0


if __name__ == "__main__":
    sys.exit(main())
