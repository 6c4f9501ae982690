#!/usr/bin/env python3
"""`oomtrace attach` and `oomtrace detach` end to end on the simulated device.

Each scenario starts tests/attach_scenarios/attach_target without the
library, lets it hold memory, joins it with the command, and checks the
report it leaves: the failure, what happened after the attach, the memory
held before it, and which paths the library covered. Then every refusal:
each must be one line, exit non-zero, and leave the target running as it
was (not stopped, not traced).

    attach_scenarios.py --cli oomtrace --target attach_target --late-module M.so
                        --deny-ptrace deny_ptrace --fake-cuda DIR [--only NAME]
"""
import argparse
import ctypes
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20
DEVICE_MIB = 8192
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL: " + what, flush=True)
    return condition


def simulated_gpu_env(args, extra_env=None):
    env = dict(os.environ)
    if args.real_gpu:  # scripts/gpu-validation.sh: the machine's own GPU and CUDA
        env.update(extra_env or {})
        return env
    env.update({"FAKE_CUDA_DEVICES": "1", "FAKE_CUDA_TOTAL_MIB": str(DEVICE_MIB),
                "FAKE_CUDA_OTHER_MIB": "0", "LD_LIBRARY_PATH": args.fake_cuda})
    env.pop("LD_PRELOAD", None)
    env.update(extra_env or {})
    return env


class Target:
    """attach_target running on the simulated device, stopped by its files."""

    def __init__(self, args, mode, arg, workdir, extra_env=None, wrapper=(), command=None):
        self.file = os.path.join(workdir, "go-" + mode)
        env = simulated_gpu_env(args, extra_env)
        command = command(self.file) if command else [args.target, mode, str(arg), self.file]
        self.process = subprocess.Popen(list(wrapper) + command,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError("attach_target %s did not start: %r %s" %
                               (mode, line, self.process.stderr.read()))
        self.pid = int(line.split()[1])
        if wrapper and wrapper[0] == "unshare":  # a grandchild, pid 1 inside
            self.pid = innermost_child(self.process.pid)

    def go(self):
        open(self.file, "w").close()

    def finish(self, timeout=60):
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            return None, out, err
        return self.process.returncode, out, err

    def kill(self):
        # The program itself first: under unshare it is a grandchild, and
        # it holds the output pipe the wrapper's end would wait for.
        for pid in {self.pid, self.process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.communicate()


def innermost_child(pid):
    """The last process in the chain of first children under pid."""
    deadline = time.time() + 10
    while time.time() < deadline:
        current = pid
        while True:
            try:
                with open("/proc/%d/task/%d/children" % (current, current)) as listing:
                    children = listing.read().split()
            except OSError:
                children = []
            if not children:
                break
            current = int(children[0])
        if current != pid:
            return current
        time.sleep(0.05)
    raise RuntimeError("no child under %d" % pid)


def run_cli(args, *command, env=None, wrapper=()):
    result = subprocess.run(list(wrapper) + [args.cli] + list(command), capture_output=True,
                            text=True, timeout=120, env=env)
    return result.returncode, result.stdout, result.stderr


def status_of(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def untouched(pid, what):
    """The target runs on: not stopped, not traced, no library in it."""
    try:
        fields = status_of(pid)
        with open("/proc/%d/maps" % pid) as maps:
            mapped = maps.read()
    except OSError:
        return check(False, what + ": the target is gone")
    ok = check(fields["State"][0] in "RSD", what + ": target state " + fields["State"])
    ok &= check(fields["TracerPid"] == "0", what + ": target still traced by " + fields["TracerPid"])
    ok &= check("liboomtrace" not in mapped, what + ": liboomtrace.so was loaded anyway")
    return ok


def one_line_error(rc, err, needle, what):
    lines = [line for line in err.splitlines() if line.strip()]
    check(rc != 0, what + ": exit code 0")
    check(len(lines) == 1, what + ": %d lines of error: %r" % (len(lines), err))
    check(needle.lower() in err.lower(), what + ": %r not in %r" % (needle, err))


def reports_in(directory):
    return sorted(glob.glob(os.path.join(directory, "*.report.json")))


def load_report(directory, what):
    found = reports_in(directory)
    if not check(len(found) == 1, what + ": %d reports in %s" % (len(found), directory)):
        return None
    with open(found[0]) as report:
        return json.load(report)


def path_named(report, name):
    for path in report["attach"]["paths"]:
        if path["name"] == name:
            return path
    return None


def attached(args, pid, directory, what, env=None, wrapper=()):
    rc, out, err = run_cli(args, "attach", str(pid), "--dir", directory, env=env, wrapper=wrapper)
    check(rc == 0, what + ": attach exited %d: %s" % (rc, err.strip()))
    check("attached to process %d" % pid in err, what + ": no 'attached' line: " + err)
    return rc == 0


# --- scenarios -------------------------------------------------------------

def scenario_grow(args, work, wrapper=(), cli_wrapper=(), env=None, name="grow"):
    """Attach to a program holding 2 GiB; it then fills the device and fails."""
    out_dir = os.path.join(work, name + "-out")
    os.makedirs(out_dir)
    target = Target(args, "grow", 2048, work, wrapper=wrapper)
    try:
        if not attached(args, target.pid, out_dir, name, env=env, wrapper=cli_wrapper):
            return
        target.go()
        rc, out, err = target.finish()
        check(rc == 0, name + ": target exited %s: %s" % (rc, err))
        blocks = int(out.split("oom after ")[1].split()[0]) if "oom after" in out else -1
        report = load_report(out_dir, name)
        if report is None:
            return
        check("attach" in report, name + ": no attach section")
        attach = report.get("attach", {})
        baseline = attach.get("baseline_device_used_bytes", 0)
        check(2048 * MiB <= baseline < 2200 * MiB,
              name + ": baseline %d not the 2 GiB held before attach" % baseline)
        check(attach.get("baseline_process_bytes", 0) >= 2048 * MiB,
              name + ": NVML's figure for the process missing: %r" % attach)
        got = path_named(report, "got")
        check(got is not None and got["covered"], name + ": GOT path not covered")
        totals = report["totals"]
        # After attach only: the blocks, their frees, and the baseline's free
        # (a pointer the library never saw).
        check(totals["allocations"] == blocks,
              name + ": %d allocations after attach, the program made %d" % (totals["allocations"], blocks))
        check(totals["unmatched_frees"] == 1, name + ": unmatched frees %d" % totals["unmatched_frees"])
        check(len(report["failures"]) == 1, name + ": %d failures" % len(report["failures"]))
        if report["failures"]:
            failure = report["failures"][0]
            check(failure["verdict"] == "exhausted", name + ": verdict " + str(failure["verdict"]))
            check(failure["requested_bytes"] == 256 * MiB, name + ": requested %r" % failure["requested_bytes"])
            held = failure["process_reserved_bytes"]
            check(held >= (2048 + 256 * blocks) * MiB - 256 * MiB,
                  name + ": the failure's held bytes %d ignore the baseline" % held)
            check("before attach" in failure["explanation"],
                  name + ": explanation does not weigh the baseline: " + failure["explanation"])
        with open(reports_in(out_dir)[0].replace(".report.json", ".report.txt")) as text:
            check("held before attach, origin unknown" in text.read(),
                  name + ": text report lacks the baseline line")
    finally:
        target.kill()


def scenario_namespace(args, work):
    """The same in a PID and mount namespace, attached from outside, with the
    command's folder hidden inside so the library must be copied in."""
    hidden = os.path.join(work, "hidden-tools")
    os.makedirs(hidden)
    for name in ("oomtrace", "liboomtrace.so"):
        shutil.copy2(os.path.join(os.path.dirname(args.cli), name), hidden)
    shutil.copytree(os.path.join(os.path.dirname(args.cli), "python"), os.path.join(hidden, "python"))
    wrapper = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "sh", "-c",
               "mount -t tmpfs none %s && exec \"$0\" \"$@\"" % hidden]
    local = argparse.Namespace(**vars(args))
    local.cli = os.path.join(hidden, "oomtrace")
    scenario_grow(local, work, wrapper=wrapper, name="namespace")


def scenario_namespace_hidden_output(args, work):
    """A trace folder the target cannot see: written inside, copied out at detach."""
    hidden = os.path.join(work, "hidden-output")
    os.makedirs(hidden)
    wrapper = ["unshare", "--pid", "--fork", "--mount", "--mount-proc", "sh", "-c",
               "mount -t tmpfs none %s && exec \"$0\" \"$@\"" % hidden]
    target = Target(args, "idle", 512, work, wrapper=wrapper)
    what = "namespace-output"
    try:
        if not attached(args, target.pid, hidden, what):
            return
        time.sleep(0.3)
        rc, out, err = run_cli(args, "detach", str(target.pid))
        check(rc == 0, what + ": detach exited %d: %s" % (rc, err))
        report = load_report(hidden, what)
        if report:
            check(report["trace"]["exit_reason"] == "detach", what + ": exit reason %r" % report["trace"]["exit_reason"])
            check(report["totals"]["allocations"] > 0, what + ": nothing recorded")
        check(hidden in err, what + ": detach does not name the folder the user asked for: " + err)
        target.go()
        rc, _, err = target.finish()
        check(rc == 0, what + ": target exited %s after detach: %s" % (rc, err))
    finally:
        target.kill()


def scenario_detach_midway(args, work):
    """Detach while the program runs: the report is written, it runs on and
    exits normally."""
    out_dir = os.path.join(work, "detach-out")
    os.makedirs(out_dir)
    target = Target(args, "idle", 1024, work)
    what = "detach"
    try:
        if not attached(args, target.pid, out_dir, what):
            return
        time.sleep(0.5)
        rc, out, err = run_cli(args, "detach", str(target.pid))
        check(rc == 0, what + ": detach exited %d: %s" % (rc, err))
        check("report:" in err, what + ": detach names no report: " + err)
        report = load_report(out_dir, what)
        if report:
            check(report["trace"]["exit_reason"] == "detach", what + ": exit reason %r" % report["trace"]["exit_reason"])
            check(report["totals"]["allocations"] >= 5, what + ": %d allocations" % report["totals"]["allocations"])
            check(report["attach"]["baseline_device_used_bytes"] >= 1024 * MiB, what + ": baseline")
        check(untouched_after_detach(target.pid), what + ": GOT slots not restored")
        rc, _, err = run_cli(args, "detach", str(target.pid))
        one_line_error(rc, err, "not attached", what + " twice")
        target.go()
        rc, out, err = target.finish()
        check(rc == 0 and "rounds" in out, what + ": target exited %s after detach: %s" % (rc, err))
    finally:
        target.kill()


def untouched_after_detach(pid):
    fields = status_of(pid)
    return fields["State"][0] in "RS" and fields["TracerPid"] == "0"


def scenario_late_module(args, work):
    """A module dlopen()ed after the attach is patched: its cudaMalloc shows."""
    out_dir = os.path.join(work, "late-out")
    os.makedirs(out_dir)
    target = Target(args, "late", args.late_module, work)
    target.file = os.path.join(work, "go-late")
    what = "late module"
    try:
        if not attached(args, target.pid, out_dir, what):
            return
        target.go()
        rc, out, err = target.finish()
        check(rc == 0 and "late module allocated: 0" in out, what + ": target: %s %s" % (out, err))
        report = load_report(out_dir, what)
        if report:
            sizes = [block["size_bytes"] for device in report["live_at_end"] for block in device["top"]]
            check(64 * MiB in sizes, what + ": the late module's 64 MiB is not in the report: %r" % sizes)
    finally:
        target.kill()


def scenario_resolved_pointer(args, work, cupti_held_by):
    """A driver pointer resolved before attach: not covered (and said so)
    unless CUPTI sees it, and then counted once."""
    name = "pointer-" + ("held" if cupti_held_by else "cupti")
    out_dir = os.path.join(work, name + "-out")
    os.makedirs(out_dir)
    env = {"FAKE_CUPTI_HELD_BY": cupti_held_by} if cupti_held_by else {}
    target = Target(args, "pointer", 512, work, extra_env=env)
    try:
        if not attached(args, target.pid, out_dir, name):
            return
        target.go()
        rc, out, err = target.finish()
        check(rc == 0 and "through pointer: 0" in out, name + ": target: %s %s" % (out, err))
        report = load_report(out_dir, name)
        if not report:
            return
        resolved = path_named(report, "resolved_before_attach")
        cupti = path_named(report, "cupti")
        sizes = [block["size_bytes"] for device in report["live_at_end"] for block in device["top"]]
        check(64 * MiB in sizes, name + ": the cudaMalloc after attach is missing: %r" % sizes)
        if cupti_held_by:
            check(resolved is not None and not resolved["covered"], name + ": reported as covered")
            check(cupti is not None and cupti_held_by in cupti["detail"],
                  name + ": the CUPTI holder is not named: %r" % cupti)
            check(128 * MiB not in sizes, name + ": an allocation nobody could see is in the report")
            check(report["totals"]["allocations"] == 1, name + ": %d allocations" % report["totals"]["allocations"])
        else:
            check(resolved is not None and resolved["covered"], name + ": CUPTI did not cover it: %r" % cupti)
            check(128 * MiB in sizes, name + ": CUPTI's allocation is missing: %r" % sizes)
            check(report["totals"]["allocations"] == 2,
                  name + ": %d allocations: each must be counted once" % report["totals"]["allocations"])
    finally:
        target.kill()


def scenario_cycles(args, work, cycles):
    """Attach and detach again and again while threads allocate: no deadlock,
    and no call lost or counted twice within a window."""
    threads = 4
    target = Target(args, "threads", threads, work)
    what = "cycles"
    allocations = 0
    try:
        for cycle in range(cycles):
            out_dir = os.path.join(work, "cycle-%03d" % cycle)
            os.makedirs(out_dir)
            if not attached(args, target.pid, out_dir, what + " %d" % cycle):
                return
            time.sleep(0.02 + 0.01 * (cycle % 5))
            rc, _, err = run_cli(args, "detach", str(target.pid))
            if not check(rc == 0, what + " %d: detach exited %d: %s" % (cycle, rc, err)):
                return
            report = load_report(out_dir, what + " %d" % cycle)
            if not report:
                return
            totals = report["totals"]
            live = sum(device["count"] for device in report["live_at_end"])
            allocations += totals["allocations"]
            # Each thread may be inside a call as the window opens (a free
            # whose allocation came before) or closes (an allocation whose
            # free came after); anything beyond is a lost or doubled call.
            check(totals["unmatched_frees"] <= threads,
                  what + " %d: %d unmatched frees" % (cycle, totals["unmatched_frees"]))
            check(live <= threads, what + " %d: %d allocations never freed" % (cycle, live))
            # totals.frees counts the frees of recorded allocations only.
            check(totals["allocations"] - live == totals["frees"],
                  what + " %d: allocations and frees do not pair: %r live %d" % (cycle, totals, live))
            check(report["trace"]["exit_reason"] == "detach", what + " %d: exit reason" % cycle)
        target.go()
        rc, out, err = target.finish()
        check(rc == 0, what + ": target exited %s: %s" % (rc, err))
        calls = int(out.split("calls ")[1]) if "calls " in out else 0
        check(0 < allocations <= calls, what + ": %d recorded of %d calls" % (allocations, calls))
        print("cycles: %d attach/detach cycles, %d allocations recorded of %d made" %
              (cycles, allocations, calls), flush=True)
    finally:
        target.kill()


def scenario_torch(args, work, expandable):
    """The real PyTorch, attached mid-run on the simulated GPU: the failure,
    PyTorch's snapshot from the bridge started in the process, and (with
    expandable segments, whose driver pointers PyTorch resolved before the
    attach) the mappings CUPTI saw."""
    name = "torch" + ("-expandable" if expandable else "")
    out_dir = os.path.join(work, name + "-out")
    os.makedirs(out_dir)
    job = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_job.py")
    # The simulated GPU as `oomtrace run --simulate-gpu` sets it up, without
    # the library: PyTorch finds the simulated runtime first.
    preload = ":".join(os.path.join(args.fake_cuda, name) for name in
                       ("libcudart.so.13", "libcudart.so.12", "libcupti.so.13", "libcupti.so.12"))
    command = lambda go: [args.torch_python, job, go] + (["--expandable"] if expandable else [])
    extra_env = {} if args.real_gpu else {"LD_PRELOAD": preload}
    target = Target(args, name, 0, work, extra_env=extra_env, command=command)
    try:
        if not attached(args, target.pid, out_dir, name):
            return
        time.sleep(0.5)  # some steps while attached, before the growth
        target.go()
        rc, out, err = target.finish(timeout=240)
        check(rc == 0 and "oom after" in out, name + ": job exited %s: %s %s" % (rc, out, err[-2000:]))
        report = load_report(out_dir, name)
        if not report:
            return
        check(len(report["failures"]) >= 1, name + ": no failure in the report")
        check(len(report.get("pytorch", [])) >= 1, name + ": no PyTorch snapshot in the report: %r" % report["notes"])
        bridge = path_named(report, "pytorch_bridge")
        check(bridge is not None and bridge["covered"], name + ": bridge not started: %r" % bridge)
        baseline = report["attach"]
        check(max(baseline["baseline_device_used_bytes"], baseline["baseline_process_bytes"] or 0) >= 1024 * MiB,
              name + ": the 1 GiB held before attach is not in the baseline: %r" % baseline["devices"])
        if expandable:
            cupti = path_named(report, "cupti")
            check(cupti is not None and cupti["covered"], name + ": CUPTI not active: %r" % cupti)
            apis = {block["api"] for device in report["live_at_end"] for block in device["top"]}
            check("cuMemMap" in apis or "cuMemCreate" in apis,
                  name + ": expandable segments' mappings not seen: %r" % apis)
    finally:
        target.kill()


# --- refusals --------------------------------------------------------------

def refusal_no_process(args, work):
    rc, _, err = run_cli(args, "attach", "999999999")
    one_line_error(rc, err, "no process with PID", "no such process")


def refusal_other_user(args, work):
    if os.geteuid() != 0:
        check(False, "another user: needs root to start a process of another user")
        return
    target = Target(args, "idle", 64, work)
    try:
        rc, _, err = run_cli(args, "attach", str(target.pid),
                             wrapper=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        one_line_error(rc, err, "belongs to root", "another user")
        untouched(target.pid, "another user")
    finally:
        target.kill()


def refusal_yama(args, work):
    scope_file = os.path.join(work, "ptrace_scope")
    target = Target(args, "idle", 64, work)
    no_cap = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"]
    try:
        for scope, needle in (("1", "kernel.yama.ptrace_scope is 1"),
                              ("2", "kernel.yama.ptrace_scope is 2"),
                              ("3", "kernel.yama.ptrace_scope is 3")):
            with open(scope_file, "w") as f:
                f.write(scope + "\n")
            env = dict(os.environ, OOMTRACE_PTRACE_SCOPE_FILE=scope_file)
            rc, _, err = run_cli(args, "attach", str(target.pid), env=env, wrapper=no_cap)
            one_line_error(rc, err, needle, "ptrace_scope " + scope)
            if scope != "3":
                check("CAP_SYS_PTRACE" in err, "ptrace_scope %s: the capability is not named" % scope)
        untouched(target.pid, "ptrace_scope")
    finally:
        target.kill()


def refusal_capability(args, work):
    """Root without CAP_SYS_PTRACE (what a container leaves it) and a target
    of another user: the missing capability is named, and how to grant it."""
    if os.geteuid() != 0:
        check(False, "missing capability: needs root")
        return
    target = Target(args, "idle", 64, work,
                    wrapper=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    try:
        rc, _, err = run_cli(args, "attach", str(target.pid),
                             wrapper=["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"])
        one_line_error(rc, err, "CAP_SYS_PTRACE", "missing capability")
        check("--cap-add SYS_PTRACE" in err, "missing capability: no fix named: " + err)
        untouched(target.pid, "missing capability")
    finally:
        target.kill()


def refusal_seccomp(args, work):
    target = Target(args, "idle", 64, work)
    try:
        # A sanitized build's leak check stops the world with ptrace at
        # exit, which the filter forbids it as well: off for this command.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        rc, _, err = run_cli(args, "attach", str(target.pid), wrapper=[args.deny_ptrace], env=env)
        one_line_error(rc, err, "seccomp", "seccomp")
        untouched(target.pid, "seccomp")
    finally:
        target.kill()


def refusal_no_cuda(args, work):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.1)
        rc, _, err = run_cli(args, "attach", str(sleeper.pid))
        one_line_error(rc, err, "has not loaded the CUDA driver", "no CUDA")
        check("oomtrace run" in err, "no CUDA: does not say to start it under oomtrace run")
        untouched(sleeper.pid, "no CUDA")
    finally:
        sleeper.kill()
        sleeper.wait()


def refusal_traced(args, work):
    """A target that already has a tracer (this test, via PTRACE_TRACEME)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    env = dict(os.environ, FAKE_CUDA_DEVICES="1", FAKE_CUDA_TOTAL_MIB=str(DEVICE_MIB),
               LD_LIBRARY_PATH=args.fake_cuda)
    go = os.path.join(work, "go-traced")
    child = subprocess.Popen([args.target, "idle", "64", go], env=env, stdout=subprocess.PIPE,
                             text=True, preexec_fn=lambda: libc.ptrace(0, 0, None, None))
    try:
        os.waitpid(child.pid, 0)  # the exec stops a PTRACE_TRACEME child
        libc.ptrace(7, child.pid, None, None)  # PTRACE_CONT
        child.stdout.readline()
        rc, _, err = run_cli(args, "attach", str(child.pid))
        one_line_error(rc, err, "already traced by PID %d" % os.getpid(), "already traced")
        check("python" in err, "already traced: the tracer is not named: " + err)
    finally:
        child.kill()
        try:
            os.waitpid(child.pid, 0)
        except ChildProcessError:
            pass


def refusal_musl(args, work):
    program = os.environ.get("OOMTRACE_TEST_MUSL_PROGRAM")
    if not check(program and os.path.exists(program), "musl: no musl program built (musl-tools missing)"):
        return
    sleeper = subprocess.Popen([program])
    try:
        time.sleep(0.1)
        rc, _, err = run_cli(args, "attach", str(sleeper.pid))
        one_line_error(rc, err, "musl", "musl")
        untouched(sleeper.pid, "musl")
    finally:
        sleeper.kill()
        sleeper.wait()


def refusal_twice(args, work):
    out_dir = os.path.join(work, "twice-out")
    os.makedirs(out_dir)
    target = Target(args, "idle", 64, work)
    try:
        if not attached(args, target.pid, out_dir, "twice"):
            return
        rc, _, err = run_cli(args, "attach", str(target.pid), "--dir", out_dir)
        one_line_error(rc, err, "already attached", "attaching twice")
        check(status_of(target.pid)["TracerPid"] == "0", "attaching twice: left traced")
        rc, _, err = run_cli(args, "detach", str(target.pid))
        check(rc == 0, "attaching twice: detach after the refusal failed: " + err)
    finally:
        target.kill()


def refusal_detach_not_attached(args, work):
    target = Target(args, "idle", 64, work)
    try:
        rc, _, err = run_cli(args, "detach", str(target.pid))
        one_line_error(rc, err, "not attached", "detach without attach")
        untouched(target.pid, "detach without attach")
    finally:
        target.kill()


SCENARIOS = {
    "grow": scenario_grow,
    "namespace": scenario_namespace,
    "namespace-output": scenario_namespace_hidden_output,
    "detach": scenario_detach_midway,
    "late-module": scenario_late_module,
    "pointer-held": lambda args, work: scenario_resolved_pointer(args, work, "Nsight Systems"),
    "pointer-cupti": lambda args, work: scenario_resolved_pointer(args, work, ""),
    "cycles": lambda args, work: scenario_cycles(args, work, args.cycles),
    "torch": lambda args, work: scenario_torch(args, work, False),
    "torch-expandable": lambda args, work: scenario_torch(args, work, True),
    "no-process": refusal_no_process,
    "other-user": refusal_other_user,
    "yama": refusal_yama,
    "capability": refusal_capability,
    "seccomp": refusal_seccomp,
    "no-cuda": refusal_no_cuda,
    "traced": refusal_traced,
    "musl": refusal_musl,
    "twice": refusal_twice,
    "detach-not-attached": refusal_detach_not_attached,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--target", default="")
    parser.add_argument("--late-module", default="")
    parser.add_argument("--deny-ptrace", default="")
    parser.add_argument("--fake-cuda", default="")
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--torch-python", help="a python with torch: adds the PyTorch scenarios")
    parser.add_argument("--real-gpu", action="store_true",
                        help="run the PyTorch scenarios on this machine's GPU, not the simulated one")
    parser.add_argument("--only", action="append")
    args = parser.parse_args()
    names = args.only or [name for name in SCENARIOS
                          if args.torch_python or not name.startswith("torch")]
    for name in names:
        work = tempfile.mkdtemp(prefix="oomtrace-attach-%s-" % name)
        started = time.time()
        before = len(failures)
        try:
            SCENARIOS[name](args, work)
        except Exception as error:  # a scenario that crashes is a failure, the rest still run
            check(False, "%s: %s: %s" % (name, type(error).__name__, error))
        status = "ok" if len(failures) == before else "FAILED"
        print("%-20s %s (%.1f s)" % (name, status, time.time() - started), flush=True)
        if len(failures) == before:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d checks failed" % len(failures))
        return 1
    print("all attach scenarios passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
