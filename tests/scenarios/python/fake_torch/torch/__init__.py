"""A stand-in for PyTorch with just what oomtrace's Python bridge touches:
torch.cuda._lazy_call, torch._C._cuda_attach_out_of_memory_observer,
torch.cuda.memory._record_memory_history and _snapshot. Its "caching
allocator" takes device memory through the (simulated) CUDA runtime with
ctypes, as PyTorch's does through libcudart."""
from . import _C, cuda


class OutOfMemoryError(RuntimeError):
    pass
