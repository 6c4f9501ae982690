"""A PyTorch training-like job for `oomtrace attach` to join mid-run.

    torch_job.py GO_FILE [--expandable]

It starts without oomtrace, allocates and keeps some tensors, says
"ready PID", then steps until GO_FILE exists; after that each step keeps
another 512 MiB until PyTorch raises OutOfMemoryError, which it catches,
prints, and exits 0. Used on the simulated GPU by the test suite and on a
real one by scripts/gpu-validation.sh.
"""
import os
import sys
import time

if "--expandable" in sys.argv:
    os.environ["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"

import torch  # noqa: E402

go_file = sys.argv[1]
device = torch.device("cuda")
kept = [torch.empty(256 << 20, dtype=torch.uint8, device=device) for _ in range(4)]
print("ready %d" % os.getpid(), flush=True)
while not os.path.exists(go_file):
    scratch = torch.empty(64 << 20, dtype=torch.uint8, device=device)
    del scratch
    time.sleep(0.02)
try:
    while True:
        kept.append(torch.empty(512 << 20, dtype=torch.uint8, device=device))
except torch.OutOfMemoryError as error:
    print("oom after %d tensors: %s" % (len(kept), str(error).splitlines()[0]), flush=True)
sys.exit(0)
