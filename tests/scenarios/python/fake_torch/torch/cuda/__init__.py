import ctypes

from . import memory

_queued_calls = []
_initialized = False
_runtime = None
segments = []  # (address, size) of every cudaMalloc'd segment


def _lazy_call(callable_):
    if _initialized:
        callable_()
    else:
        _queued_calls.append(callable_)


def init():
    """What torch.cuda._lazy_init does for us: load the runtime, run queued calls."""
    global _initialized, _runtime
    if _initialized:
        return
    _runtime = ctypes.CDLL("libcudart.so.13")
    _initialized = True
    for callable_ in _queued_calls:
        callable_()


def reserve_segment(size):
    pointer = ctypes.c_void_p()
    result = _runtime.cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(size))
    if result != 0:
        return None
    segments.append((pointer.value, size))
    return pointer.value
