"""Sees inside PyTorch's caching allocator from within the traced process.

Installed by sitecustomize.py when liboomtrace.so is preloaded, or, in a
process `oomtrace attach` joined, started by the library's own thread
through attach_running() and stopped at detach by detach_running(). Nothing
runs inside an allocation hook: the library's hooks never take the GIL.
Instead, when the program imports torch, this module asks torch to run
`_attach` at CUDA's lazy initialisation, on the program's own thread (or at
once, on the library's thread, when an attach finds CUDA initialised):

- it attaches an out-of-memory observer, which PyTorch calls (allocator
  unlocked) before it raises; the observer saves
  `torch.cuda.memory._snapshot()` next to the trace and tells the library,
  which records the file as an attachment of the trace;
- the observer also takes the Python stack of the failing allocation itself
  (it runs on the failing thread) and saves it in the snapshot under
  "oomtrace_oom_stack", so the report names the line without any history;
- with OOMTRACE_TORCH_HISTORY=1 it turns on PyTorch's allocation history
  with Python stacks, in a ring buffer of OOMTRACE_TORCH_HISTORY_ENTRIES
  entries (default 100000), so the snapshot carries every block's stack and
  the allocation sequence `oomtrace whatif` replays. It is off by default:
  in a loop that allocates a tensor per operation it costs +73 % (+26 %
  even without stacks), where the bridge without it stays within the
  noise (bench/torch_bridge_overhead.py, README "What it costs").

It also records out-of-memory exceptions that reach the top of a thread
uncaught (CuPy and JAX raise theirs in Python, where the library's C++ hook
cannot see them), then lets the program's own excepthook run as before.

Nothing here may stop the program, so every step catches its errors; none
is dropped silently: each leaves a note in the trace, which the report
shows (observer not attached, history refused, snapshot not written, a
torch API this release lacks).
"""
import ctypes
import importlib.abc
import os
import pickle
import sys
import threading
import traceback

_OOM_MARKERS = ("out of memory", "resource_exhausted", "out of memory allocating")


def _flag(name, default):
    value = os.environ.get(name, default).strip().lower()
    return value not in ("0", "false", "off", "no")


def _number(name, default):
    try:
        return max(0, int(os.environ.get(name, default)))
    except ValueError:
        return int(default)


_history_entries = _number("OOMTRACE_TORCH_HISTORY_ENTRIES", "100000")
_history_context = os.environ.get("OOMTRACE_TORCH_HISTORY_CONTEXT", "all")
if _history_context not in ("all", "alloc", "state", "none"):
    sys.stderr.write("oomtrace: OOMTRACE_TORCH_HISTORY_CONTEXT=%s is not all, alloc, state or none; "
                     "using all\n" % _history_context)
    _history_context = "all"
_max_snapshots = _number("OOMTRACE_TORCH_SNAPSHOTS", "3")
_snapshots_saved = 0
_lock = threading.Lock()
_library = None
# False after detach_running: PyTorch cannot take an OOM observer back, nor
# the excepthooks be unwound safely once others wrapped them, so each of
# them stays in place and does nothing until the next attach.
_active = True
_observer_attached = False
_observer_problem = None  # why the observer is not attached, once _attach tried
_history_override = None  # attach_running(history=...): None follows OOMTRACE_TORCH_HISTORY
_history_started = False
_excepthooks_installed = False
_attached = False  # started by attach_running, not by install()


def _load_library(path=None):
    """liboomtrace.so: the preloaded one (path None: the global scope), or
    the one `oomtrace attach` loaded, by its path and only if it is loaded
    already, never a second copy. None when the process runs without it."""
    try:
        library = ctypes.CDLL(None) if path is None else ctypes.CDLL(path, mode=os.RTLD_NOLOAD)
        library.oomtrace_bridge_trace_path.restype = ctypes.c_size_t
        library.oomtrace_bridge_trace_path.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        library.oomtrace_bridge_attachment.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        library.oomtrace_bridge_framework_error.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        library.oomtrace_bridge_note.argtypes = [ctypes.c_char_p]
        return library
    except (OSError, AttributeError):  # not preloaded, or an older library: no bridge
        return None


def _note(text):
    """Leaves a sentence in the trace for the report's notes."""
    try:
        _library.oomtrace_bridge_note(("PyTorch bridge: " + text).encode(errors="replace"))
    except Exception as error:  # the library itself refused: say so where a person can see it
        sys.stderr.write("oomtrace: the PyTorch bridge could not leave a note (%s): %s\n" % (error, text))


def _failure(error):
    text = "%s: %s" % (type(error).__name__, error)
    return text.split("\n")[0][:300]


def _trace_path():
    buffer = ctypes.create_string_buffer(4096)
    length = _library.oomtrace_bridge_trace_path(buffer, len(buffer))
    return buffer.value.decode(errors="replace") if length else ""


def _write_private(path, data):
    """Mode 0600, never over an existing file or through a planted symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _on_out_of_memory(device, alloc, device_allocated, device_free):
    """PyTorch's OOM observer: may fire several times for one failure."""
    global _snapshots_saved
    import torch

    if not _active:
        return
    with _lock:
        if _snapshots_saved >= _max_snapshots:
            return
        trace = _trace_path()
        if not trace:
            return
        _snapshots_saved += 1
        number = _snapshots_saved
    # The trace's name without ".trace" (oomtrace.<host>[.rank<R>].<pid>), so
    # each rank's snapshots sort beside its trace.
    stem = trace[: -len(".trace")] if trace.endswith(".trace") else trace
    path = "%s.oom%d.snapshot.pickle" % (stem, number)
    try:
        snapshot = torch.cuda.memory._snapshot()
        snapshot["oomtrace_oom_stack"] = {"device": device, "requested_bytes": alloc,
                                          "frames": _failing_python_stack()}
        # Protocol 4: what PyTorch's memory_viz reads.
        _write_private(path, pickle.dumps(snapshot, protocol=4))
        _library.oomtrace_bridge_attachment(b"torch_snapshot", path.encode())
    except Exception as error:
        _note("snapshot not written at the out-of-memory on GPU %s (%s)" % (device, _failure(error)))


def _failing_python_stack():
    """The Python frames that led to the failing allocation, innermost first,
    in the snapshot's frame format. PyTorch calls the observer on the thread
    whose allocation failed, so this thread's stack is that allocation's."""
    frames = traceback.extract_stack(sys._getframe(2))  # skip this and the observer
    return [{"filename": frame.filename, "line": frame.lineno, "name": frame.name} for frame in reversed(frames)]


def _start_history(torch):
    record = torch.cuda.memory._record_memory_history
    options = dict(enabled="all", context=None if _history_context == "none" else _history_context,
                   stacks="python", max_entries=_history_entries)
    if _attached:
        # PyTorch records annotations through a callback of the thread that
        # turns the history on, and only that thread can remove it: attached,
        # that is the library's thread, which runs nothing worth annotating
        # and stops the history at detach. A callback for every thread
        # annotates the program's threads, where this torch has one (older
        # releases lack global_record_annotations: the program's threads then
        # go unannotated).
        try:
            record(global_record_annotations=True, **options)
            return
        except TypeError:
            pass
    try:
        record(**options)
    except TypeError:  # PyTorch before 2.1
        record(True, record_context=True, trace_alloc_max_entries=_history_entries,
               trace_alloc_record_context=True)


def _stop_history(torch):
    record = torch.cuda.memory._record_memory_history
    try:
        record(enabled=None)
    except TypeError:  # PyTorch before 2.1
        record(False)


def _history_wanted():
    if _history_override is not None:
        return bool(_history_override)
    return _flag("OOMTRACE_TORCH_HISTORY", "0")


def _attach_observer(torch):
    global _observer_attached, _observer_problem
    attach_observer = getattr(torch._C, "_cuda_attach_out_of_memory_observer", None)
    if attach_observer is None:
        _observer_problem = ("observer not attached: this torch has no "
                             "torch._C._cuda_attach_out_of_memory_observer, so no snapshot is saved at an out-of-memory")
        _note(_observer_problem)
        return
    try:
        attach_observer(_on_out_of_memory)
        _observer_attached = True
        _observer_problem = None
    except Exception as error:  # backend:cudaMallocAsync refuses observers
        _observer_problem = "observer not attached, so no snapshot is saved at an out-of-memory (%s)" % _failure(error)
        _note(_observer_problem)


def _attach():
    """At CUDA's initialisation (or at once when it is done). Runs once per
    process with the preloaded library; attaching again after a detach may
    queue it again, so what is already in place is not added twice."""
    global _history_started
    if not _active:  # detached before CUDA initialised
        return
    import torch

    if not _observer_attached:
        _attach_observer(torch)
    if _history_wanted() and not _history_started:
        try:
            _start_history(torch)
            _history_started = True
        except Exception as error:  # backend:cudaMallocAsync refuses history too
            _note("history refused, so blocks carry no Python stacks (%s)" % _failure(error))


def _on_torch_imported(torch):
    if not _active:
        return
    lazy_call = getattr(getattr(torch, "cuda", None), "_lazy_call", None)
    if lazy_call is None:
        _note("torch API missing in this release: torch.cuda._lazy_call, so the bridge did not attach")
        return
    lazy_call(_attach)  # runs at CUDA's lazy init, or now if it is done


class _TorchImportWatcher(importlib.abc.MetaPathFinder):
    """Runs _on_torch_imported right after `import torch` has finished."""

    def find_spec(self, name, path=None, target=None):
        if name != "torch":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                self._watch(spec)
                return spec
        return None

    def _watch(self, spec):
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return
        original = loader.exec_module

        def exec_module(module):
            original(module)
            try:
                _on_torch_imported(module)
            except Exception as error:
                _note("not attached to torch after its import (%s)" % _failure(error))

        loader.exec_module = exec_module
        _remove_import_watchers()  # once is enough


def _remove_import_watchers():
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _TorchImportWatcher)]


def _framework_of(error):
    module = type(error).__module__ or ""
    for prefix, name in (("torch", "pytorch"), ("cupy", "cupy"), ("jax", "jax"),
                         ("tensorflow", "tensorflow"), ("keras", "tensorflow")):
        if module.startswith(prefix):
            return name
    return "python"


def _note_if_out_of_memory(error):
    try:
        message = str(error)
        if any(marker in message.lower() for marker in _OOM_MARKERS):
            text = "%s: %s" % (type(error).__name__, message)
            _library.oomtrace_bridge_framework_error(_framework_of(error).encode(),
                                                     text.encode(errors="replace"))
    except Exception as failure:  # str(error) itself may raise; the program's hook still runs
        _note("an uncaught exception could not be checked for an out-of-memory (%s)" % _failure(failure))


def _install_excepthooks():
    global _excepthooks_installed
    if _excepthooks_installed:  # a second attach: the first one's hooks are still chained
        return
    _excepthooks_installed = True
    previous = sys.excepthook

    def excepthook(kind, error, traceback):
        if _active:
            _note_if_out_of_memory(error)
        previous(kind, error, traceback)

    sys.excepthook = excepthook
    previous_thread_hook = threading.excepthook

    def thread_excepthook(args):
        if _active:
            _note_if_out_of_memory(args.exc_value)
        previous_thread_hook(args)

    threading.excepthook = thread_excepthook


def install():
    global _library
    if not _flag("OOMTRACE_PYTHON", "1"):
        return
    _library = _load_library()
    if _library is None:
        return
    if "torch" in sys.modules:
        _on_torch_imported(sys.modules["torch"])
    else:
        sys.meta_path.insert(0, _TorchImportWatcher())
    _install_excepthooks()


# ------------------------------------------------------------ `oomtrace attach`

def _attach_to_torch(torch):
    """(started, detail) for a process that imported torch before the attach."""
    if getattr(getattr(torch, "__spec__", None), "_initializing", False):
        # Another thread is inside `import torch`: too late to watch the
        # import, too early to use the module.
        return False, "torch was being imported at the attach, so the bridge did not attach; attach again"
    _on_torch_imported(torch)  # attaches now if CUDA is initialised, else at its lazy init
    cuda = getattr(torch, "cuda", None)
    if getattr(cuda, "_lazy_call", None) is None:
        return False, "torch API missing in this release: torch.cuda._lazy_call, so the bridge did not attach"
    if not cuda.is_initialized():
        return True, "torch imported, CUDA not initialised yet: the OOM observer attaches when it is"
    if not _observer_attached:
        return False, _observer_problem or "the OOM observer was not attached"
    history = "; allocation history with Python stacks on" if _history_started else ""
    return True, "OOM observer attached to the running PyTorch: a snapshot is saved at an out-of-memory" + history


def attach_running(library_path, history=None):
    """Called by liboomtrace.so's own thread, holding the GIL, in a process
    `oomtrace attach` joined; what install() does at start, for a process
    that is already running. `library_path`: the library as the process
    loaded it. `history`: True or False to override OOMTRACE_TORCH_HISTORY.

    Returns (torch imported, bridge started, one sentence for the report);
    never raises: the library reads the sentence whatever happened."""
    global _library, _active, _snapshots_saved, _history_override, _attached
    torch = sys.modules.get("torch")
    try:
        if not _flag("OOMTRACE_PYTHON", "1"):
            return torch is not None, False, "OOMTRACE_PYTHON=0 in the process's environment turns the bridge off"
        library = _load_library(library_path)
        if library is None:
            return torch is not None, False, "the bridge could not open %s with ctypes" % library_path
        with _lock:
            _library = library
            _snapshots_saved = 0  # a new trace: its own snapshots
        _history_override = history
        _attached = True
        _active = True
        if torch is None:
            _remove_import_watchers()
            sys.meta_path.insert(0, _TorchImportWatcher())
            started, detail = True, "torch not imported yet: the OOM observer attaches at its CUDA initialisation"
        else:
            started, detail = _attach_to_torch(torch)
        _install_excepthooks()
        return torch is not None, started, detail
    except Exception as error:
        return torch is not None, False, "the bridge did not start (%s)" % _failure(error)


def detach_running():
    """At `oomtrace detach`, holding the GIL: the observer and the
    excepthooks do nothing from now on (neither can be removed safely), a
    watch for `import torch` still waiting is dropped, and the allocation
    history the bridge started stops. Never raises."""
    global _active, _history_started
    _active = False
    try:
        _remove_import_watchers()
        torch = sys.modules.get("torch")
        if _history_started and torch is not None:
            _history_started = False
            _stop_history(torch)
    except Exception as error:
        _note("not fully stopped at detach (%s)" % _failure(error))
    return True
