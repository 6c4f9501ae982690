#!/usr/bin/env python3
"""A distributed job on the simulated device, then `oomtrace merge` over it.

Eight ranks of tests/merge/rank_worker start at once under `oomtrace run
--simulate-gpu`, each with RANK, LOCAL_RANK and WORLD_SIZE set as torchrun
sets them and one output folder; rank 5 runs out of memory. Checked: the
trace and report names carry the rank, the reports show it, and `oomtrace
merge` names the failing rank, its host, pid and verdict in JSON, text and
HTML; folders with nothing to merge give one line and a non-zero exit.

    merge_ranks_test.py --cli oomtrace --worker merge_rank_worker
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

WORLD_SIZE = 8
FAILING_RANK = 5
DEVICE_BYTES = 4 << 30
LAUNCHER_VARIABLES = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS",
                      "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_SIZE",
                      "PMI_RANK", "PMI_SIZE", "JOB_COMPLETION_INDEX", "OOMTRACE_DIR", "LD_PRELOAD"]
TRACE_NAME = re.compile(r"^oomtrace\.(?P<host>.+)\.rank(?P<rank>\d+)\.(?P<pid>\d+)\.trace$")
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL: " + what, flush=True)
    return condition


def clean_environment():
    env = dict(os.environ)
    for name in LAUNCHER_VARIABLES:
        env.pop(name, None)
    return env


def host_name():
    """As the library makes it safe for a file name."""
    host = socket.gethostname() or "localhost"
    return host.replace("/", "_").replace("\\", "_").replace(" ", "_")


def run_job(args, folder):
    """The ranks start together, as torchrun starts its workers."""
    workers = []
    for rank in range(WORLD_SIZE):
        env = clean_environment()
        env.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD_SIZE),
                    "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500",
                    "MERGE_FAILING_RANK": str(FAILING_RANK)})
        command = [args.cli, "run", "--simulate-gpu", "4GiB", "--dir", folder, "--", args.worker]
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for rank, worker in enumerate(workers):
        out, err = worker.communicate(timeout=120)
        expected = 1 if rank == FAILING_RANK else 0
        check(worker.returncode == expected,
              "rank %d exited %d, expected %d:\n%s%s" % (rank, worker.returncode, expected, out, err))
        # Each `oomtrace run` speaks of its own rank's trace only, though
        # all eight share the folder.
        named = set(int(n) for n in re.findall(r"oomtrace\.[^ ]*?\.rank(\d+)\.\d+\.trace", err))
        check(named == {rank}, "the run of rank %d told of the traces of ranks %s:\n%s" % (rank, sorted(named), err))


def merge(args, *arguments):
    return subprocess.run([args.cli, "merge"] + list(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=120)


def check_names(folder):
    """{rank: pid} from the trace names, after checking every name."""
    traces = sorted(os.path.basename(path) for path in glob.glob(os.path.join(folder, "*.trace")))
    check(len(traces) == WORLD_SIZE, "%d traces, expected %d: %s" % (len(traces), WORLD_SIZE, traces))
    pids = {}
    for name in traces:
        match = TRACE_NAME.match(name)
        if not check(match is not None, name + " does not carry the rank"):
            continue
        check(match.group("host") == host_name(), name + " does not carry the host " + host_name())
        rank = int(match.group("rank"))
        pids[rank] = int(match.group("pid"))
        stem = os.path.join(folder, name[: -len(".trace")])
        if check(os.path.exists(stem + ".report.json"), stem + ".report.json is missing"):
            with open(stem + ".report.json") as file:
                process = json.load(file)["process"]
            check(process.get("rank") == rank and process.get("local_rank") == rank
                  and process.get("world_size") == WORLD_SIZE,
                  "the report of rank %d shows %s" % (rank, process))
        if check(os.path.exists(stem + ".report.txt"), stem + ".report.txt is missing"):
            with open(stem + ".report.txt") as file:
                check("Rank %d of %d (local rank %d)" % (rank, WORLD_SIZE, rank) in file.read(),
                      "the text report of rank %d does not name its rank" % rank)
    check(sorted(pids) == list(range(WORLD_SIZE)), "ranks in the names: %s" % sorted(pids))
    return pids


def check_json(args, folder, pids, started_ns):
    result = merge(args, "--format", "json", folder)
    if not check(result.returncode == 0, "merge --format json exited %d: %s" % (result.returncode, result.stderr)):
        return
    merged = json.loads(result.stdout)
    first = merged["first_failure"]
    if check(first is not None, "merge found no failure"):
        check(first["rank"] == FAILING_RANK, "first failure on rank %s" % first["rank"])
        check(first["host"] == host_name(), "first failure on host %s" % first["host"])
        check(first["pid"] == pids.get(FAILING_RANK), "first failure in pid %s" % first["pid"])
        check(first["verdict"] == "exhausted", "first failure's verdict: %s" % first["verdict"])
        check(started_ns <= first["time"]["unix_ns"] <= time.time_ns(), "first failure at %s" % first["time"])
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$", first["time"]["iso"]) is not None,
              "ISO time " + first["time"]["iso"])
    ranks = merged["ranks"]
    check([r["rank"] for r in ranks] == list(range(WORLD_SIZE)), "ranks[]: %s" % [r["rank"] for r in ranks])
    for entry in ranks:
        rank = entry["rank"]
        check(entry["failed"] == (rank == FAILING_RANK), "rank %d failed: %s" % (rank, entry["failed"]))
        check(entry["world_size"] == WORLD_SIZE and entry["local_rank"] == rank and entry["rank_source"] == "trace",
              "rank %d: %s" % (rank, entry))
        check(entry["pid"] == pids.get(rank) and entry["host"] == host_name(), "rank %d's pid/host" % rank)
        device = entry["devices"][0] if entry["devices"] else None
        if check(device is not None, "rank %d has no GPU" % rank):
            check(device["total"] == DEVICE_BYTES and device["peak_reserved"] >= 2 << 30
                  and device["headroom"] == device["total"] - device["peak_reserved"],
                  "rank %d's GPU: %s" % (rank, device))
    balance = merged["balance"]
    check(balance["balanced"] is False and [o["rank"] for o in balance["outliers"]] == [FAILING_RANK],
          "balance: %s" % balance)
    check(merged["unreadable"] == [], "unreadable: %s" % merged["unreadable"])


def check_text_and_html(args, folder, work):
    text = merge(args, folder)
    check(text.returncode == 0 and "First failure: rank %d on %s" % (FAILING_RANK, host_name()) in text.stdout
          and "Verdict: exhausted" in text.stdout and "Not balanced" in text.stdout,
          "text merge:\n" + text.stdout + text.stderr)
    page = os.path.join(work, "merge.html")
    html = merge(args, "--format", "html", folder, "-o", page)
    if check(html.returncode == 0 and os.path.exists(page), "html merge: " + html.stderr):
        with open(page) as file:
            content = file.read()
        check(content.startswith("<!DOCTYPE html>") and "<svg" in content and "first OOM" in content
              and "<script" not in content and 'class="bar failed"' in content,
              "the html page lacks its chart or marks")


def check_mixed_folder(args, folder, work):
    """Copied traces plus one of a process without a rank and a broken file."""
    mixed = os.path.join(work, "mixed")
    shutil.copytree(folder, mixed)
    env = clean_environment()
    subprocess.run([args.cli, "run", "--simulate-gpu", "4GiB", "--dir", mixed, "--", args.worker], env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    with open(os.path.join(mixed, "broken.trace"), "wb") as file:
        file.write(b"OOMTRACE\x01")
    result = merge(args, "--format", "json", mixed)
    if not check(result.returncode == 0, "merge of the mixed folder: " + result.stderr):
        return
    merged = json.loads(result.stdout)
    unranked = [r for r in merged["ranks"] if r["rank_source"] == "file_order"]
    check(len(merged["ranks"]) == WORLD_SIZE + 1 and len(unranked) == 1, "mixed ranks: %s" % merged["ranks"])
    check(len(merged["unreadable"]) == 1 and "broken.trace" in merged["unreadable"][0]["path"],
          "unreadable: %s" % merged["unreadable"])
    check(merged["first_failure"] and merged["first_failure"]["rank"] == FAILING_RANK, "mixed first failure")


def check_nothing_to_merge(args, work):
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    others = os.path.join(work, "others")
    os.makedirs(others)
    for name, content in (("notes.txt", "hello\n"), ("results.json", "{}\n")):
        with open(os.path.join(others, name), "w") as file:
            file.write(content)
    garbage = os.path.join(work, "garbage")
    os.makedirs(garbage)
    with open(os.path.join(garbage, "x.trace"), "w") as file:
        file.write("not a trace\n")
    for folder in (empty, others, garbage, os.path.join(work, "missing")):
        for format_name in ("text", "json"):
            result = merge(args, "--format", format_name, folder)
            lines = result.stderr.splitlines()
            check(result.returncode != 0 and result.stdout == "" and len(lines) == 1
                  and lines[0].startswith("oomtrace: error: "),
                  "merge %s (%s) gave exit %d, stdout %r, stderr %r"
                  % (folder, format_name, result.returncode, result.stdout, result.stderr))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--worker", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="oomtrace-merge-")
    try:
        folder = os.path.join(work, "job")
        started_ns = time.time_ns()
        run_job(args, folder)
        pids = check_names(folder)
        check_json(args, folder, pids, started_ns)
        check_text_and_html(args, folder, work)
        check_mixed_folder(args, folder, work)
        check_nothing_to_merge(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("merge_ranks: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
