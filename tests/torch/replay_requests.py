"""Replays a request sequence through the real PyTorch caching allocator.

    python replay_requests.py REQUESTS.json RESULT.json

REQUESTS.json is what whatif_against_torch.py extracted from a snapshot: a
list of [op, id, size, stream] with op "alloc" (torch.empty of `size` bytes
on `stream`), "free" (drop tensor `id`) or "empty_cache". Run it on the
simulated device under the PYTORCH_CUDA_ALLOC_CONF being checked. A request
PyTorch cannot serve is counted, and the replay goes on without it, as the
model's replay does. RESULT.json gets PyTorch's own figures.
"""
import json
import sys

import torch


def main():
    with open(sys.argv[1]) as source:
        requests = json.load(source)
    streams = {0: torch.cuda.current_stream()}
    tensors = {}
    failed = 0
    first_failure = None
    for index, (op, ident, size, stream) in enumerate(requests):
        if op == "alloc":
            if stream not in streams:
                streams[stream] = torch.cuda.Stream()
            try:
                with torch.cuda.stream(streams[stream]):
                    tensors[ident] = torch.empty(size, dtype=torch.uint8, device="cuda")
            except torch.OutOfMemoryError:
                failed += 1
                first_failure = index if first_failure is None else first_failure
        elif op == "free":
            tensors.pop(ident, None)
        elif op == "empty_cache":
            torch.cuda.empty_cache()
    with open(sys.argv[2], "w") as out:
        json.dump({"peak_reserved_bytes": torch.cuda.max_memory_reserved(),
                   "peak_allocated_bytes": torch.cuda.max_memory_allocated(),
                   "failed_requests": failed, "first_failure": first_failure,
                   "torch_version": torch.__version__}, out)


if __name__ == "__main__":
    main()
