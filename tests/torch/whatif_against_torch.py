"""Holds `oomtrace whatif` against PyTorch's own caching allocator.

For each snapshot: the requests of its busiest device are extracted in the
recorded order, sizes and streams (blocks live before the recording began
are allocated first), and written twice: as a request list that
replay_requests.py plays through the real PyTorch on the simulated GPU, and
as a PyTorch snapshot holding only that sequence, which `oomtrace whatif`
replays through its model. Both run on a device a little smaller than
PyTorch's own peak under the defaults, once for every setting the sweep
tries; they must agree on whether a request fails, and on the peak reserved
memory within 2 %.

    whatif_against_torch.py --oomtrace build/oomtrace --python VENV/bin/python \\
        --work DIR --table DIR/whatif-agreement.md SNAPSHOT...

Prints one line per check, a markdown table of every comparison, and ends
with "N passed, M failed".
"""
import argparse
import concurrent.futures
import json
import os
import pickle
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
PEAK_TOLERANCE = 0.02
# The simulated device is this share of PyTorch's own peak under the
# defaults: small enough that the defaults run out, large enough that a
# better setting can fit.
CAPACITY_SHARE = 0.97


TABLE_HEADER = ("| snapshot | device | setting | OOM (model / PyTorch) | peak reserved MiB (model / PyTorch) | "
                "difference | |", "|---|---|---|---|---|---|---|")


class PlainData(pickle.Unpickler):
    """Snapshots are plain dicts and lists: refuse anything else."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError("a snapshot may not name %s.%s" % (module, name))


def load_snapshot(path):
    with open(path, "rb") as source:
        return PlainData(source).load()


def busiest_device(snapshot):
    traces = snapshot.get("device_traces") or []
    return max(range(len(traces)), key=lambda d: len(traces[d]), default=None)


def extract_requests(snapshot, device):
    """The request sequence of one device, as [op, id, size, stream] lists.

    Blocks the recording frees before allocating them, and active blocks of
    the final segments it never touches, were live when it began: they are
    allocated first. A block goes back at free_completed (reusable from
    then on). A recorded out-of-memory is a request that is never freed, as
    the model replays it; a run of segment frees is an empty_cache."""
    entries = snapshot["device_traces"][device]
    touched = {entry.get("addr") for entry in entries}
    initial, body = [], []
    live = {}  # address -> id
    streams = {0: 0}  # recorded stream -> small number; 0 is the default stream
    next_id = [0]

    def new_id():
        next_id[0] += 1
        return next_id[0]

    def started_live(address, size, stream):
        live[address] = new_id()
        initial.append(["alloc", live[address], size, stream])

    for segment in snapshot.get("segments", []):
        if segment.get("device", 0) != device:
            continue
        stream = streams.setdefault(segment.get("stream", 0), len(streams))
        for block in segment.get("blocks", []):
            address = block.get("address")
            if block.get("state") == "active_allocated" and address is not None and address not in touched:
                started_live(address, block.get("requested_size") or block["size"], stream)
    previous_action = None
    for entry in entries:
        action, address, size = entry["action"], entry.get("addr"), entry.get("size", 0)
        stream = streams.setdefault(entry.get("stream", 0), len(streams))
        if action == "alloc":
            live[address] = new_id()
            body.append(["alloc", live[address], size, stream])
        elif action in ("free_requested", "free_completed") and address not in live:
            started_live(address, size, stream)
        if action == "free_completed":
            body.append(["free", live.pop(address), 0, 0])
        elif action == "oom":
            body.append(["alloc", new_id(), size, stream])
        elif action in ("segment_free", "segment_unmap") and previous_action not in ("segment_free", "segment_unmap"):
            body.append(["empty_cache", 0, 0, 0])
        previous_action = action
    return initial + body


def sequence_snapshot(requests):
    """The request list as a snapshot `oomtrace whatif` reads: one device,
    no segments, addresses made up (unique while a block lives)."""
    entries = []
    address_of = {}
    next_address = [1 << 44]

    def entry(action, address, size, stream):
        entries.append({"action": action, "addr": address, "size": size, "stream": stream, "frames": []})

    for op, ident, size, stream in requests:
        if op == "alloc":
            address_of[ident] = (next_address[0], size, stream)
            next_address[0] += (size + 4095) // 4096 * 4096 + 4096
            entry("alloc", address_of[ident][0], size, stream)
        elif op == "free":
            address, size, stream = address_of.pop(ident)
            entry("free_requested", address, size, stream)
            entry("free_completed", address, size, stream)
        elif op == "empty_cache":
            entry("segment_free", 0, 0, 0)
    return {"segments": [], "device_traces": [entries]}


def run_torch(args, requests_path, settings, capacity, name):
    result_path = "%s.%s.torch.json" % (requests_path, name)
    environment = dict(os.environ)
    environment.pop("PYTORCH_CUDA_ALLOC_CONF", None)
    if settings != "defaults":
        environment["PYTORCH_CUDA_ALLOC_CONF"] = settings
    simulated = os.path.join(os.path.dirname(os.path.abspath(args.oomtrace)), "fake_cuda")
    # The simulated device without the tracer: this compares allocators.
    environment.update({
        "LD_PRELOAD": ":".join("%s/%s" % (simulated, name) for name in (
            "libcudart.so.13", "libcudart.so.12", "libcupti.so.13", "libcupti.so.12")),
        "LD_LIBRARY_PATH": simulated + ":" + environment.get("LD_LIBRARY_PATH", ""),
        "FAKE_CUDA_DEVICES": "1",
        "FAKE_CUDA_TOTAL_MIB": str(capacity // MiB),
        "FAKE_CUDA_OTHER_MIB": "0",
    })
    done = subprocess.run([args.python, os.path.join(HERE, "replay_requests.py"), requests_path, result_path],
                          env=environment, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError("torch replay under %s failed: %s" % (settings, done.stderr[-2000:]))
    with open(result_path) as source:
        return json.load(source)


def run_model(args, snapshot_path, capacity):
    done = subprocess.run([args.oomtrace, "whatif", "--sweep", "--capacity", str(capacity), "--format", "json",
                           snapshot_path], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError("oomtrace whatif failed: " + done.stderr)
    return json.loads(done.stdout)


def compare(args, name, path, table, results):
    snapshot = load_snapshot(path)
    device = busiest_device(snapshot)
    requests = extract_requests(snapshot, device) if device is not None else []
    if not any(op == "alloc" for op, _, _, _ in requests):
        # The pre-2.1 format keeps history in the blocks, not in a trace:
        # `oomtrace whatif` refuses it too.
        print("skip %s: no allocation history to replay" % name)
        table.append("| %s | – | – | – | – | – | no allocation history to replay |" % name)
        return
    requests_path = os.path.join(args.work, name + ".requests.json")
    with open(requests_path, "w") as out:
        json.dump(requests, out)
    sequence_path = os.path.join(args.work, name + ".sequence.pickle")
    with open(sequence_path, "wb") as out:
        pickle.dump(sequence_snapshot(requests), out, protocol=4)

    largest_request = max((r[2] for r in requests if r[0] == "alloc"), default=0)
    roomy = max(64 * 1024 * MiB, 4 * largest_request) // MiB * MiB
    unconstrained = run_torch(args, requests_path, "defaults", roomy, "unconstrained")
    capacity = int(unconstrained["peak_reserved_bytes"] * CAPACITY_SHARE) // MiB * MiB
    model = run_model(args, sequence_path, capacity)
    rows = model["rows"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run_torch, args, requests_path, row["settings"], capacity, "row%d" % i)
                   for i, row in enumerate(rows)]
        measured = [future.result() for future in futures]
    for row, torch_result in zip(rows, measured):
        model_oom = row["oom_at_event"] is not None
        torch_oom = torch_result["failed_requests"] > 0
        model_peak, torch_peak = row["peak_reserved_bytes"], torch_result["peak_reserved_bytes"]
        difference = abs(model_peak - torch_peak) / torch_peak if torch_peak else 0.0
        agrees = model_oom == torch_oom and difference <= PEAK_TOLERANCE
        results[agrees] += 1
        print("%s %s %s: OOM model %s torch %s; peak model %.1f MiB torch %.1f MiB (%.2f %%)" % (
            "ok  " if agrees else "FAIL", name, row["settings"], model_oom, torch_oom, model_peak / MiB,
            torch_peak / MiB, 100 * difference), flush=True)
        table.append("| %s | %d MiB | %s | %s / %s | %.1f / %.1f | %.2f %% | %s |" % (
            name, capacity // MiB, row["settings"], "OOM" if model_oom else "fits", "OOM" if torch_oom else "fits",
            model_peak / MiB, torch_peak / MiB, 100 * difference, "agrees" if agrees else "DISAGREES"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oomtrace", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--table")
    parser.add_argument("snapshots", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    table = list(TABLE_HEADER)
    results = {True: 0, False: 0}
    for path in args.snapshots:
        name = os.path.splitext(os.path.basename(path))[0]
        compare(args, name, path, table, results)
    text = "\n".join(table) + "\n"
    print(text)
    if args.table:
        with open(args.table, "w") as out:
            out.write(text)
    print("%d passed, %d failed" % (results[True], results[False]))
    return 1 if results[False] else 0


if __name__ == "__main__":
    sys.exit(main())
