"""Programs that run out of GPU memory under real PyTorch, one per scenario.

    python torch_scenarios.py SCENARIO OBSERVATIONS.json

Each scenario does what a training script does when it fails in that way,
then writes what PyTorch itself saw to OBSERVATIONS.json: the OOM message,
torch.cuda.memory_stats(), and for the fragmentation case the figures of
PyTorch's own snapshot. tests/torch/check_torch_scenarios.py runs each one
under `oomtrace run --simulate-gpu` and compares those with the report;
scripts/gpu-validation.sh runs the same programs on a real GPU.

Sizes are worked out from the device's free memory, so a scenario behaves the
same on a simulated 8 GiB device and on an 80 GiB H100.
"""
import atexit
import json
import os
import sys

import torch

MiB = 1 << 20
GiB = 1 << 30
_observed = {"scenario": None, "torch_version": torch.__version__, "oom_messages": []}


def _stats(device=0):
    stats = torch.cuda.memory_stats(device)
    keep = ("num_alloc_retries", "num_ooms", "allocated_bytes.all.current", "reserved_bytes.all.current",
            "reserved_bytes.all.peak", "allocated_bytes.all.peak")
    return {key: stats.get(key) for key in keep}


def _save():
    _observed["memory_stats"] = _stats(_observed.get("device", 0))
    with open(sys.argv[2], "w") as out:
        json.dump(_observed, out, indent=1)


def _note_oom(error):
    _observed["oom_messages"].append(str(error))


def _free_bytes(device=0):
    free, total = torch.cuda.mem_get_info(device)
    _observed["device_total_bytes"] = total
    return free


def _fill_with_blocks(block_bytes, keep, device="cuda"):
    """Allocates block_bytes tensors until the device is nearly full."""
    while True:
        try:
            keep.append(torch.empty(block_bytes, dtype=torch.uint8, device=device))
        except torch.OutOfMemoryError as error:
            return error


def exhausted():
    # The README's first example: a list of 1 GiB tensors, one too many.
    # Uncaught, like a training script's.
    count = _free_bytes() // GiB + 1
    tensors = [torch.empty(GiB, dtype=torch.uint8, device="cuda") for _ in range(count)]
    return tensors


def _fragment(segment_bytes=GiB, block_bytes=200 * MiB):
    """Splits each cached segment into five blocks and frees two of them, so
    the device is full while the free memory inside PyTorch's segments is in
    holes of block_bytes. Returns the blocks kept."""
    groups = []
    for _ in range(_free_bytes() // segment_bytes):
        whole = torch.empty(segment_bytes, dtype=torch.uint8, device="cuda")
        del whole  # the segment stays cached; the blocks below are split from it
        groups.append([torch.empty(block_bytes, dtype=torch.uint8, device="cuda") for _ in range(5)])
    # Only now the holes: freed earlier, they would be refilled by the next
    # segment's blocks (best fit prefers an exact hole to a fresh segment).
    kept = [block for group in groups for block in group[0::2]]
    del groups
    leftover = _free_bytes() // (2 * MiB) * (2 * MiB)
    if leftover >= 2 * MiB:
        kept.append(torch.empty(leftover, dtype=torch.uint8, device="cuda"))
    return kept


def fragmentation():
    kept = _fragment()
    try:
        torch.empty(300 * MiB, dtype=torch.uint8, device="cuda")
        _observed["fitted"] = True
    except torch.OutOfMemoryError as error:
        _note_oom(error)
        _observed["fitted"] = False
        _observed["snapshot"] = _snapshot_figures()
    return kept


def _snapshot_figures():
    """Largest inactive block and fragmentation as PyTorch's snapshot has them."""
    inactive = [block["size"] for segment in torch.cuda.memory._snapshot()["segments"]
                for block in segment["blocks"] if block["state"] == "inactive"]
    total = sum(inactive)
    return {"largest_free_block_bytes": max(inactive, default=0), "free_in_segments_bytes": total,
            "fragmentation": (1 - max(inactive) / total) if total else None}


def expandable():
    # Run with PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: the same
    # program fits, because freed pages go back to the device.
    return fragmentation()


def async_backend():
    # Run with PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync.
    kept = []
    error = _fill_with_blocks(GiB, kept)
    _note_oom(error)
    return kept


def fraction():
    torch.cuda.set_per_process_memory_fraction(0.5)
    kept = []
    error = _fill_with_blocks(GiB, kept)
    _note_oom(error)
    _observed["held_bytes"] = len(kept) * GiB
    return kept


def other_processes():
    # Run with others=SIZE: another process holds most of the device.
    request = _free_bytes() // (2 * MiB) * (2 * MiB) + 2 * MiB
    try:
        torch.empty(request, dtype=torch.uint8, device="cuda")
    except torch.OutOfMemoryError as error:
        _note_oom(error)


def leak():
    # A running total that keeps each step's graph: every step's activation
    # stays referenced until the device is full.
    weight = torch.ones(1, device="cuda", requires_grad=True)
    running_loss = torch.zeros(1, device="cuda")
    steps = 0
    try:
        while True:
            activation = torch.empty(128 * MiB // 4, device="cuda")
            running_loss = running_loss + (activation * weight).sum()
            steps += 1
    except torch.OutOfMemoryError as error:
        _note_oom(error)
    _observed["steps"] = steps
    return running_loss


def recovered():
    # Cache full of 1 GiB blocks; a 2 GiB request makes PyTorch empty its
    # cache and retry, which succeeds: no exception, normal exit.
    blocks = [torch.empty(GiB, dtype=torch.uint8, device="cuda") for _ in range(_free_bytes() // GiB - 1)]
    del blocks
    big = torch.empty(2 * GiB, dtype=torch.uint8, device="cuda")
    return big


def caught():
    kept = []
    error = _fill_with_blocks(GiB, kept)
    _note_oom(error)
    kept.clear()
    torch.cuda.empty_cache()
    print("recovered by catching torch.OutOfMemoryError")


def uncaught():
    kept = []
    _free_bytes()
    while True:
        kept.append(torch.empty(GiB, dtype=torch.uint8, device="cuda"))


def second_gpu():
    # Two GPUs; the job fills GPU 1.
    _observed["device"] = 1
    kept = [torch.empty(GiB, dtype=torch.uint8, device="cuda:0")]
    _free_bytes(1)
    error = _fill_with_blocks(GiB, kept, device="cuda:1")
    _note_oom(error)
    return kept


SCENARIOS = {
    "exhausted": exhausted,
    "fragmentation": fragmentation,
    "expandable": expandable,
    "async_backend": async_backend,
    "fraction": fraction,
    "other_processes": other_processes,
    "leak": leak,
    "recovered": recovered,
    "caught": caught,
    "uncaught": uncaught,
    "second_gpu": second_gpu,
}

if __name__ == "__main__":
    _observed["scenario"] = sys.argv[1]
    # atexit runs after an uncaught exception's traceback too, so the
    # scenarios that die of their OOM still leave their observations.
    atexit.register(_save)
    SCENARIOS[sys.argv[1]]()
