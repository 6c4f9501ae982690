"""A PyTorch job capped by torch.cuda.set_per_process_memory_fraction: the
allocator refuses a request with no CUDA call failing, calls its OOM
observers, and raises torch.OutOfMemoryError, uncaught."""
import torch

GiB = 1 << 30
torch.cuda.init()
for _ in range(2):
    torch.cuda.reserve_segment(2 * GiB)

for observer in torch._C.out_of_memory_observers:
    observer(0, 2 * GiB, 4 * GiB, 12 * GiB)
raise torch.OutOfMemoryError(
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 16.00 GiB of "
    "which 12.00 GiB is free. Including non-PyTorch memory, this process has 4.00 GiB memory in "
    "use. 4.00 GiB allowed; Of the allocated memory 3.75 GiB is allocated by PyTorch, and "
    "256.00 MiB is reserved by PyTorch but unallocated.")
