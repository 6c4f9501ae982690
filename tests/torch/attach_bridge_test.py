"""The Python bridge started in a running PyTorch process, as `oomtrace
attach` starts it, without the command and without ptrace:

    attach_bridge_test.py --python VENV/bin/python --library build/liboomtrace.so
                          --bridge build/python --fake-cuda build/fake_cuda --work DIR

The process runs the real PyTorch on the simulated GPU, not preloaded with
liboomtrace.so. Once CUDA holds some tensors it does what the injector does
in a borrowed thread: dlopen the library (ctypes: RTLD_LOCAL, so it is not
in the global scope, as after an injection) and call oomtrace_attach_begin
from the main thread. The library's own thread must then take the GIL, start
the bridge (OOM observer and, with OOMTRACE_TORCH_HISTORY=1, the allocation
history), and at a detach requested through the control block stop them.

Checked in the process: the attach is reported with the bridge covered, an
out-of-memory leaves a snapshot beside the trace, detach stops the history
and turns the observer into a no-op, and the report written at detach has
the failure, the snapshot and the `attach` section. Prints one line per
check and ends with "N passed, M failed"; exits 1 when any failed.
"""
import argparse
import ctypes
import glob
import json
import os
import pickle
import shutil
import subprocess
import sys
import time

MiB = 1 << 20
GiB = 1 << 30
DEVICE_MIB = 4096

# attach_control_block.h
STATE_NAMES = {0: "Loaded", 1: "Starting", 2: "Attached", 3: "Detaching", 4: "Detached", 5: "Failed"}
ATTACHED, DETACHED, FAILED = 2, 4, 5
REQUEST_DETACH = 1


class AttachControlBlock(ctypes.Structure):
    _fields_ = [("magic", ctypes.c_char * 8), ("state", ctypes.c_uint32), ("generation", ctypes.c_uint32),
                ("request", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("trace_path", ctypes.c_char * 4096), ("message", ctypes.c_char * 2048)]


results = {"passed": 0, "failed": 0}


def check(condition, what):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    return condition


def finish():
    print("%d passed, %d failed" % (results["passed"], results["failed"]), flush=True)
    sys.exit(1 if results["failed"] else 0)


# ------------------------------------------------------------ the driver (any python)

def simulated_gpu_env(fake_cuda):
    """What `oomtrace run --simulate-gpu 4GiB` sets (cli/simulated_gpu.cpp),
    without liboomtrace.so in LD_PRELOAD."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OOMTRACE_", "FAKE_CUDA_")) and key not in ("LD_PRELOAD", "PYTHONPATH")}
    env.update({"FAKE_CUDA_DEVICES": "1", "FAKE_CUDA_TOTAL_MIB": str(DEVICE_MIB), "FAKE_CUDA_OTHER_MIB": "0",
                "FAKE_CUDA_NAME": "oomtrace simulated GPU", "OOMTRACE_SIMULATED_GPU": "%dMiB" % DEVICE_MIB,
                "LD_LIBRARY_PATH": ":".join(filter(None, [fake_cuda, os.environ.get("LD_LIBRARY_PATH")])),
                "LD_PRELOAD": ":".join(os.path.join(fake_cuda, name)
                                       for name in ("libcudart.so.13", "libcudart.so.12",
                                                    "libcupti.so.13", "libcupti.so.12")),
                "PYTHONDONTWRITEBYTECODE": "1",
                # The history too, so that detach has it to stop.
                "OOMTRACE_TORCH_HISTORY": "1"})
    return env


def drive(args):
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    command = [args.python, os.path.abspath(__file__), "--in-process", "--library", args.library,
               "--bridge", args.bridge, "--work", args.work]
    try:
        process = subprocess.run(command, env=simulated_gpu_env(args.fake_cuda), timeout=600,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired as expired:
        print(expired.output or "")
        check(False, "the PyTorch process did not end within 600 s")
        finish()
    print(process.stdout, end="")
    # The process counted its own checks; a crash leaves none or a missing summary.
    check(process.returncode == 0, "the PyTorch process exited %d" % process.returncode)
    check(" passed, 0 failed" in process.stdout, "the PyTorch process ran every check")
    finish()


# ------------------------------------------------------------ inside the PyTorch process

def wait_for_state(block, wanted, seconds=120):
    deadline = time.monotonic() + seconds
    while block.state not in wanted and time.monotonic() < deadline:
        time.sleep(0.05)  # releases the GIL: the library's thread needs it
    return block.state


def run_out_of_memory(torch, keep):
    try:
        while True:
            keep.append(torch.empty(GiB, dtype=torch.uint8, device="cuda"))
    except torch.OutOfMemoryError as error:
        return str(error)


def snapshots_beside(trace_path):
    stem = trace_path[: -len(".trace")] if trace_path.endswith(".trace") else trace_path
    return sorted(glob.glob(stem + ".oom*.snapshot.pickle"))


def history_length(torch):
    return sum(len(trace) for trace in torch.cuda.memory._snapshot().get("device_traces", []))


def in_process(args):
    import torch

    held = [torch.empty(256 * MiB, dtype=torch.uint8, device="cuda") for _ in range(3)]
    check(torch.cuda.is_initialized(), "CUDA initialised before the attach")
    check("oomtrace_bridge" not in sys.modules, "no bridge before the attach")

    library = ctypes.CDLL(args.library)  # RTLD_LOCAL, as the injector's dlopen
    block = AttachControlBlock.in_dll(library, "oomtrace_attach_control")
    library.oomtrace_attach_begin.argtypes = [ctypes.c_char_p]
    options = "dir=%s\npython=%s\npid=%d\n" % (args.work, args.bridge, os.getpid())
    started = library.oomtrace_attach_begin(options.encode())
    if not check(started == 0, "oomtrace_attach_begin returned %d" % started):
        finish()
    state = wait_for_state(block, (ATTACHED, FAILED))
    message = block.message.decode(errors="replace")
    if not check(state == ATTACHED, "attached (state %s: %s)" % (STATE_NAMES.get(state, state), message)):
        finish()
    covered = message.split(";")[0]
    check("pytorch_bridge" in covered, "the bridge is among the paths covered: " + message)
    trace_path = block.trace_path.decode()
    check(os.path.dirname(trace_path) == args.work, "trace in the attach's folder: " + trace_path)
    bridge = sys.modules.get("oomtrace_bridge")
    check(bridge is not None and os.path.dirname(bridge.__file__) == args.bridge,
          "the bridge imported from python= (%s)" % getattr(bridge, "__file__", None))

    oom_message = run_out_of_memory(torch, held)
    check("out of memory" in oom_message, "PyTorch ran out of memory: " + oom_message.splitlines()[0])
    snapshots = snapshots_beside(trace_path)
    if check(len(snapshots) >= 1, "the observer saved a snapshot beside the trace: %s" % snapshots):
        with open(snapshots[0], "rb") as saved:
            snapshot = pickle.load(saved)
        frames = snapshot.get("oomtrace_oom_stack", {}).get("frames", [])
        check(any(frame["name"] == "run_out_of_memory" for frame in frames),
              "the snapshot names the failing Python frame")
        check(sum(len(trace) for trace in snapshot.get("device_traces", [])) > 0,
              "OOMTRACE_TORCH_HISTORY=1: the snapshot carries the allocation history")

    block.request = REQUEST_DETACH
    state = wait_for_state(block, (DETACHED, FAILED))
    check(state == DETACHED, "detached (state %s)" % STATE_NAMES.get(state, state))

    # After the detach: no history grows, and an out-of-memory saves nothing.
    del held[3:]
    before = history_length(torch)
    extra = torch.empty(64 * MiB, dtype=torch.uint8, device="cuda")
    check(history_length(torch) <= before, "the history stopped at detach")
    del extra
    run_out_of_memory(torch, held)
    check(snapshots_beside(trace_path) == snapshots, "the observer does nothing after detach")

    report_path = trace_path[: -len(".trace")] + ".report.json"
    if not check(os.path.exists(report_path), "report written at detach: " + report_path):
        finish()
    with open(report_path) as source:
        report = json.load(source)
    check(len(report.get("failures", [])) >= 1, "the report has the out-of-memory")
    check(len(report.get("pytorch", [])) >= 1, "the report read the snapshot: %r" % report.get("notes"))
    attach = report.get("attach")
    check(attach is not None, "the report has an `attach` section")
    paths = {path.get("name"): path for path in (attach or {}).get("paths", [])}
    bridge_path = paths.get("pytorch_bridge")
    check(bridge_path is not None and bridge_path.get("covered"),
          "the report's attach paths have the bridge covered: %r" % bridge_path)
    finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--python", help="a python with torch")
    parser.add_argument("--library", required=True)
    parser.add_argument("--bridge", required=True, help="the folder holding oomtrace_bridge.py")
    parser.add_argument("--fake-cuda", help="the simulated CUDA libraries")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    args.work = os.path.abspath(args.work)
    args.bridge = os.path.abspath(args.bridge)
    args.library = os.path.abspath(args.library)
    if args.in_process:
        in_process(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
