"""Runs tests/torch/torch_scenarios.py under the real PyTorch on the simulated
GPU (`oomtrace run --simulate-gpu`) and checks each report against what
PyTorch itself printed and measured.

    check_torch_scenarios.py --oomtrace build/oomtrace --python VENV/bin/python --work DIR
    check_torch_scenarios.py --real-gpu --table T.md ...   (scripts/gpu-validation.sh)

With --real-gpu the same scenarios run on the machine's GPU instead: the
memory "other processes" hold is a second process holding it, a scenario
that needs two GPUs is skipped on one, and the checks that only the
simulation can make (its spec in the report, the simulated NVML's pid) are
replaced by what the real device allows. --table writes a row per scenario.

Also checks that the simulated runtime defines every libcudart symbol the
installed torch imports, and (whatif_against_torch.py) that `oomtrace whatif`
agrees with PyTorch's allocator on the snapshots of --fixtures and those the
scenarios saved. Prints one line per check and ends with "N passed, M
failed"; exits 1 when any failed.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import whatif_against_torch

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS_PY = os.path.join(HERE, "torch_scenarios.py")
GiB = 1 << 30
MiB = 1 << 20

results = {"passed": 0, "failed": 0}
table_rows = []


def check(condition, what):
    results["passed" if condition else "failed"] += 1
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    return condition


# ------------------------------------------------------------ PyTorch's number format

def torch_format_size(size):
    """c10's format_size(): what an OOM message prints, two decimals."""
    if size <= 1024:
        return "%d bytes" % size
    if size <= 1048576:
        return "%.2f KiB" % (size / 1024.0)
    if size <= 1073741824:
        return "%.2f MiB" % (size / 1048576.0)
    return "%.2f GiB" % (size / 1073741824.0)


_SIZE = r"([0-9.]+ (?:bytes|KiB|MiB|GiB|TiB))"


def message_figures(message):
    """The figures of a current-format PyTorch OOM message, as printed."""
    figures = {}
    for key, pattern in (("requested", r"Tried to allocate " + _SIZE),
                         ("total", r"total capacity of " + _SIZE),
                         ("free", r"of which " + _SIZE + r" is free"),
                         ("allowed", _SIZE + r" allowed;")):
        found = re.search(pattern, message)
        if found:
            figures[key] = found.group(1)
    return figures


def agrees_with_message(failure, figures):
    """The failure's figures printed PyTorch's way equal the message's."""
    pairs = (("requested", failure.get("requested_bytes")), ("total", failure.get("device_total_bytes")),
             ("free", failure.get("device_free_bytes")))
    return all(key not in figures or (value is not None and torch_format_size(value) == figures[key])
               for key, value in pairs)


# ------------------------------------------------------------ running one scenario

class MemoryHolder:
    """Another process holding GPU memory, for --real-gpu's others=SIZE."""

    def __init__(self, python, size):
        self.process = None
        if not size:
            return
        holder = ("import sys, time, torch\n"
                  "held = torch.empty(%d, dtype=torch.uint8, device='cuda')\n"
                  "print('held', flush=True)\n"
                  "time.sleep(3600)\n" % size)
        self.process = subprocess.Popen([python, "-c", holder], stdout=subprocess.PIPE, text=True)
        self.process.stdout.readline()

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def release(self):
        if self.process:
            self.process.kill()
            self.process.wait()


def others_bytes(spec):
    found = re.search(r"others=(\d+)GiB", spec)
    return int(found.group(1)) * GiB if found else 0


class Run:
    def __init__(self, args, name, spec, env=None, scenario=None):
        self.name = name
        self.spec = spec
        self.real_gpu = args.real_gpu
        self.dir = os.path.join(args.work, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        observations = os.path.join(self.dir, "observed.json")
        environment = dict(os.environ)
        environment.pop("PYTORCH_CUDA_ALLOC_CONF", None)
        environment.update(env or {})
        device = [] if args.real_gpu else ["--simulate-gpu", spec]
        command = [args.oomtrace, "run"] + device + ["--dir", self.dir, "--",
                                                     args.python, SCENARIOS_PY, scenario or name, observations]
        holder = MemoryHolder(args.python, others_bytes(spec) if args.real_gpu else 0)
        self.other_pid = holder.pid if args.real_gpu else 4242
        try:
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
        finally:
            holder.release()
        self.exit_code = done.returncode
        self.stdout, self.stderr = done.stdout, done.stderr
        self.observed = self._load(observations) or {}
        reports = sorted(glob.glob(os.path.join(self.dir, "oomtrace.*.report.json")))
        self.report = self._load(reports[0]) if len(reports) == 1 else {}
        texts = sorted(glob.glob(os.path.join(self.dir, "oomtrace.*.report.txt")))
        self.text = open(texts[0]).read() if len(texts) == 1 else ""
        if not check(len(reports) == 1 and self.observed, "%s: one report and PyTorch's observations written"
                     % name):
            print(self.stderr[-3000:])
        table_rows.append(self)

    @staticmethod
    def _load(path):
        try:
            with open(path) as source:
                return json.load(source)
        except (OSError, ValueError):
            return None

    def failures(self):
        return self.report.get("failures", [])

    def unrecovered(self):
        return [f for f in self.failures() if not f["recovered"]]

    def with_verdict(self, verdict):
        return [f for f in self.failures() if f["verdict"] == verdict]

    def oom_messages(self):
        """What PyTorch raised: caught ones as the scenario saw them, uncaught
        ones from the traceback's last line (oomtrace's own summary on stderr
        is not PyTorch's)."""
        messages = list(self.observed.get("oom_messages", []))
        messages += [line.split(": ", 1)[1] for line in self.stderr.splitlines()
                     if line.startswith("torch.OutOfMemoryError: ")]
        return messages

    def check_simulated(self, spec):
        if self.real_gpu:
            check(self.report.get("simulated_gpu") is None, "%s: the report does not claim a simulated GPU" % self.name)
            return
        check(self.report.get("simulated_gpu") == spec, "%s: the report says it ran on the simulated GPU %s"
              % (self.name, spec))
        check("Simulated GPU (%s)" % spec in self.text, "%s: the text report says so too" % self.name)

    def main_failure(self):
        """The failure the text report explains first: the last one not recovered from."""
        unrecovered = self.unrecovered()
        return unrecovered[-1] if unrecovered else (self.failures()[-1] if self.failures() else None)

    def table_row(self):
        failure = self.main_failure() or {}
        figures = message_figures(self.oom_messages()[-1]) if self.oom_messages() else {}
        where = self.text.split("Where (innermost first):\n", 1)
        first_frame = where[1].splitlines()[0].strip() if len(where) == 2 else ""
        size = lambda value: torch_format_size(value) if value is not None else "–"
        return "| %s | %d | %s | %s | %s / %s / %s | %s | %s | %s |" % (
            self.name, self.exit_code, ", ".join(sorted({f["verdict"] or "none" for f in self.failures()})) or "no failure",
            "yes" if any(f["recovered"] for f in self.failures()) else "no",
            size(failure.get("requested_bytes")), size(failure.get("device_total_bytes")),
            size(failure.get("device_free_bytes")),
            " / ".join(figures.get(key, "–") for key in ("requested", "total", "free")) if figures else "–",
            "yes" if "torch_scenarios.py" in first_frame else "no",
            "; ".join(self.report.get("notes", []))[:120] or "–")

    def check_message_agreement(self):
        messages = [m for m in self.oom_messages() if "Tried to allocate" in m]
        if not check(messages, "%s: PyTorch printed an out-of-memory message" % self.name):
            return
        figures = message_figures(messages[-1])
        agreeing = [f for f in self.failures() if agrees_with_message(f, figures)]
        check(agreeing, "%s: a failure's requested/total/free equal PyTorch's message (%s)"
              % (self.name, ", ".join("%s %s" % item for item in sorted(figures.items()))))

    def check_python_where(self, function):
        """The text report's Where starts with this scenario's Python frame."""
        where = self.text.split("Where (innermost first):\n", 1)
        lines = where[1].splitlines() if len(where) == 2 else []
        first = lines[0].strip() if lines else ""
        check(re.match(r".*torch_scenarios\.py:\d+ in %s$" % re.escape(function), first) is not None,
              "%s: Where starts with the Python frame 'torch_scenarios.py:LINE in %s' (got %r)"
              % (self.name, function, first))

    def stats(self, key):
        return self.observed.get("memory_stats", {}).get(key)

    def check_stats(self, ooms, device=0, same_peak=True):
        """torch.cuda.memory_stats() beside the report: PyTorch's count of
        OOMs it raised, and its peak reserved memory, which for the native
        allocator is exactly what the driver level saw it hold. (Expandable
        segments create pages before mapping them, so the driver holds more
        for a moment; cudaMallocAsync keeps no such statistics.)"""
        check(self.stats("num_ooms") == ooms, "%s: torch.cuda.memory_stats counts %s OOM(s) (num_ooms %s)"
              % (self.name, ooms, self.stats("num_ooms")))
        if same_peak:
            devices = {d["index"]: d for d in self.report.get("devices", [])}
            ours = devices.get(device, {}).get("peak_reserved_bytes")
            theirs = self.stats("reserved_bytes.all.peak")
            check(ours is not None and ours == theirs,
                  "%s: the report's peak held on GPU %d (%s) equals PyTorch's reserved_bytes.all.peak (%s)"
                  % (self.name, device, ours, theirs))


# ------------------------------------------------------------ the scenarios

def scenario_exhausted(args):
    spec = "8GiB"
    run = Run(args, "exhausted", spec)
    run.check_simulated(spec)
    check(run.exit_code == 1 and "torch.OutOfMemoryError" in run.stderr,
          "exhausted: the uncaught torch.OutOfMemoryError ends the program with exit code 1 (got %d)" % run.exit_code)
    check(run.with_verdict("exhausted") and not run.with_verdict("fragmentation"), "exhausted: verdict exhausted")
    run.check_message_agreement()
    run.check_python_where("<listcomp>")
    run.check_stats(ooms=1)


def scenario_fragmentation(args):
    spec = "8GiB"
    # With the history on: its snapshot is one the what-if replays.
    run = Run(args, "fragmentation", spec, {"OOMTRACE_TORCH_HISTORY": "1"})
    run.check_simulated(spec)
    check(run.observed.get("fitted") is False, "fragmentation: the 300 MiB request fails under the native allocator")
    failures = run.with_verdict("fragmentation")
    if check(failures, "fragmentation: verdict fragmentation"):
        snapshot = run.observed.get("snapshot", {})
        failure = failures[-1]
        check(failure["largest_free_block_bytes"] == snapshot.get("largest_free_block_bytes"),
              "fragmentation: largest free block %s equals PyTorch's snapshot (%s)"
              % (failure["largest_free_block_bytes"], snapshot.get("largest_free_block_bytes")))
        ours, theirs = failure["fragmentation"], snapshot.get("fragmentation")
        check(ours is not None and theirs is not None and abs(ours - theirs) < 1e-9,
              "fragmentation: fragmentation %s equals PyTorch's snapshot (%s)" % (ours, theirs))
        # The replay's advice, run for real: the same program under the
        # setting the report recommends must fit.
        advice = (failure.get("replay") or {}).get("recommended_settings")
        if check(advice is not None and (failure["replay"] or {}).get("recorded_oom_at_event") is not None,
                 "fragmentation: the replay fails under the recorded settings, as the run did, and recommends %s"
                 % advice):
            advised = Run(args, "fragmentation_advised", spec, {"PYTORCH_CUDA_ALLOC_CONF": advice},
                          scenario="fragmentation")
            check(advised.observed.get("fitted") is True and not advised.unrecovered(),
                  "fragmentation: under the recommended %s the real PyTorch fits the same program" % advice)
    run.check_message_agreement()
    run.check_python_where("fragmentation")
    run.check_stats(ooms=1)
    return run


def scenario_expandable(args):
    spec = "8GiB"
    run = Run(args, "expandable", spec, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"})
    check(run.observed.get("fitted") is True, "expandable: the same program fits with expandable_segments:True")
    check(not run.unrecovered(), "expandable: no failure the program did not recover from")
    apis = {entry["api"] for device in run.report.get("live_at_end", []) for entry in device["top"]}
    check("cuMemCreate" in apis, "expandable: cuMemCreate/cuMemMap seen (live at exit: %s)" % sorted(apis))
    check(run.report.get("totals", {}).get("allocations", 0) > 0 and run.exit_code == 0,
          "expandable: normal exit with allocations traced")
    run.check_stats(ooms=0, same_peak=False)


def scenario_async_backend(args):
    spec = "8GiB"
    # History asked for, so that both refusals are seen.
    run = Run(args, "async_backend", spec, {"PYTORCH_CUDA_ALLOC_CONF": "backend:cudaMallocAsync",
                                            "OOMTRACE_TORCH_HISTORY": "1"})
    run.check_simulated(spec)
    apis = {f["api"] for f in run.failures()}
    check(any(api.startswith("cudaMallocAsync") or api.startswith("cuMemAllocAsync") for api in apis),
          "async_backend: the failed call is stream-ordered (%s)" % sorted(apis))
    check(run.with_verdict("exhausted"), "async_backend: verdict exhausted")
    notes = " ".join(run.report.get("notes", []))
    check("history refused" in notes, "async_backend: the report notes that PyTorch refused the history")
    check("observer not attached" in notes, "async_backend: the report notes that the OOM observer was refused")
    # 2.6 raises with the first line only ("Allocation on device "); later
    # releases add "would exceed allowed memory" and the figures.
    check(any(m.startswith("Allocation on device") or "out of memory" in m for m in run.oom_messages()),
          "async_backend: PyTorch raised its cudaMallocAsync out-of-memory (%r)" % run.oom_messages()[-1:])


def scenario_fraction(args):
    spec = "8GiB"
    run = Run(args, "fraction", spec)
    run.check_simulated(spec)
    limits = run.with_verdict("limit")
    check(limits and limits[0]["cap"] and limits[0]["cap"]["kind"] == "pytorch_memory_fraction",
          "fraction: verdict limit from PyTorch's memory fraction")
    check(run.report.get("totals", {}).get("failed_allocations") == 0, "fraction: no CUDA call failed")
    figures = message_figures(run.oom_messages()[-1]) if run.oom_messages() else {}
    check("allowed" in figures and limits and torch_format_size(limits[0]["cap"]["bytes"]) == figures["allowed"],
          "fraction: the cap equals PyTorch's 'allowed' figure (%s)" % figures.get("allowed"))
    run.check_stats(ooms=1)


def scenario_other_processes(args):
    spec = "8GiB,others=5GiB"
    run = Run(args, "other_processes", spec)
    run.check_simulated(spec)
    failures = run.with_verdict("other_processes")
    if check(failures, "other_processes: verdict other_processes"):
        named = failures[0]["other_processes"]
            # On a real GPU the other process also holds its CUDA context.
        check(any(p["pid"] == run.other_pid and (p["used_bytes"] == 5 * GiB or
                                                 (run.real_gpu and p["used_bytes"] >= 5 * GiB)) for p in named),
              "other_processes: NVML names the other process (pid %s, 5 GiB): %s" % (run.other_pid, named))
    run.check_message_agreement()
    check(any("Process %s has " % run.other_pid in m for m in run.oom_messages()),
          "other_processes: PyTorch's message names the same process through NVML")
    run.check_stats(ooms=1)


def scenario_leak(args):
    """By default (no history) the leak line names the line whose allocation
    failed; with OOMTRACE_TORCH_HISTORY=1 the line holding the live memory."""
    spec = "8GiB"
    for name, env in (("leak", {}), ("leak_history", {"OOMTRACE_TORCH_HISTORY": "1"})):
        run = Run(args, name, spec, env, scenario="leak")
        leak = run.report.get("leak_suspected", {})
        check(leak.get("suspected"), "%s: leak_suspected after %s steps" % (name, run.observed.get("steps")))
        sites = [site["site"] for site in leak.get("python_sites", [])]
        if env:
            check(any(re.search(r"torch_scenarios\.py:\d+ in leak", site) for site in sites[:1]),
                  "%s: the Python line holding the live memory is named first (%s)" % (name, sites[:2]))
        else:
            check(not sites, "%s: without history no block names a line (%s)" % (name, sites[:2]))
        leak_line = run.text.split("Leak suspected:", 1)[-1].split("\n\n")[0]
        check(re.search(r"torch_scenarios\.py:\d+ in leak", leak_line) is not None,
              "%s: the text report's leak line names the Python line that allocates" % name)
        run.check_stats(ooms=1)


def scenario_recovered(args):
    spec = "8GiB"
    run = Run(args, "recovered", spec)
    check(run.exit_code == 0, "recovered: normal exit (got %d)" % run.exit_code)
    check(run.failures() and all(f["recovered"] for f in run.failures()),
          "recovered: every failure is marked recovered: true")
    check((run.stats("num_alloc_retries") or 0) >= 1,
          "recovered: PyTorch counted a retry (%s retries)" % run.stats("num_alloc_retries"))
    run.check_stats(ooms=0)


def scenario_caught_and_uncaught(args):
    spec = "8GiB"
    caught = Run(args, "caught", spec)
    check(caught.exit_code == 0 and "recovered by catching" in caught.stdout,
          "caught: the program catches torch.OutOfMemoryError and exits normally")
    check(caught.with_verdict("exhausted"), "caught: the report still explains the failure (exhausted)")
    caught.check_message_agreement()
    caught.check_stats(ooms=1)
    uncaught = Run(args, "uncaught", spec)
    check(uncaught.exit_code == 1 and "Traceback" in uncaught.stderr,
          "uncaught: the traceback is printed and the exit code stays 1 (got %d)" % uncaught.exit_code)
    check(uncaught.with_verdict("exhausted"), "uncaught: verdict exhausted")
    uncaught.check_message_agreement()
    uncaught.check_python_where("uncaught")
    uncaught.check_stats(ooms=1)


def scenario_second_gpu(args):
    spec = "2x8GiB"
    if args.real_gpu and gpu_count(args) < 2:
        print("skip second_gpu: this machine has one GPU")
        return
    run = Run(args, "second_gpu", spec, {"OOMTRACE_TORCH_HISTORY": "1"})
    run.check_simulated(spec)
    check(run.failures() and all(f["device"] == 1 for f in run.failures()),
          "second_gpu: every failure is on GPU 1 (%s)" % [f["device"] for f in run.failures()])
    check(run.with_verdict("exhausted"), "second_gpu: verdict exhausted")
    check(len(run.report.get("devices", [])) == 2, "second_gpu: both GPUs are described")
    run.check_message_agreement()
    run.check_stats(ooms=1, device=1)


SCENARIOS = [scenario_exhausted, scenario_fragmentation, scenario_expandable, scenario_async_backend,
             scenario_fraction, scenario_other_processes, scenario_leak, scenario_recovered,
             scenario_caught_and_uncaught, scenario_second_gpu]


# ------------------------------------------------------------ the runtime's symbols

def check_runtime_symbols(args):
    """Every cuda*/__cuda* symbol torch imports from libcudart is defined by
    the simulated runtime of the same SONAME, under the same version node."""
    torch_dir = subprocess.run([args.python, "-c", "import os, torch; print(os.path.dirname(torch.__file__))"],
                               capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}
                               ).stdout.strip()
    simulated = os.path.join(os.path.dirname(os.path.abspath(args.oomtrace)), "fake_cuda")
    needed = {}
    libraries = glob.glob(os.path.join(torch_dir, "lib", "*.so*")) + glob.glob(os.path.join(torch_dir, "_C*.so"))
    for library in libraries:
        listing = subprocess.run(["nm", "-D", "--undefined-only", library], capture_output=True, text=True).stdout
        for symbol in re.findall(r"\b(\w+)@(libcudart\.so\.\d+)", listing):
            needed.setdefault(symbol[1], set()).add(symbol[0])
    check(needed, "symbols: torch's libraries import from libcudart (%s)" % sorted(needed))
    for soname, symbols in sorted(needed.items()):
        listing = subprocess.run(["nm", "-D", "--defined-only", os.path.join(simulated, soname)],
                                 capture_output=True, text=True).stdout
        defined = set(re.findall(r"\b(\w+)@@" + re.escape(soname), listing))
        missing = sorted(symbols - defined)
        check(not missing, "symbols: the simulated %s defines all %d symbols torch imports%s"
              % (soname, len(symbols), (": missing " + ", ".join(missing)) if missing else ""))


def gpu_count(args):
    done = subprocess.run([args.python, "-c", "import torch; print(torch.cuda.device_count())"],
                          capture_output=True, text=True)
    return int(done.stdout.strip() or 0)


def write_table(path):
    lines = ["| scenario | exit | verdicts | recovered | report: requested / total / free | "
             "PyTorch's message: requested / total / free | Python frame in Where | notes |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [run.table_row() for run in table_rows]
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def check_whatif_agreement(args):
    """Every fixture and every snapshot a scenario saved, replayed through
    PyTorch and through the model under each setting of the sweep."""
    snapshots = sorted(glob.glob(os.path.join(args.fixtures, "*.pickle")))
    for scenario_dir in sorted(glob.glob(os.path.join(args.work, "*"))):
        saved = sorted(glob.glob(os.path.join(scenario_dir, "oomtrace.*.oom1.snapshot.pickle")))
        # Only the scenarios run with the history on recorded a sequence.
        if saved and any(whatif_against_torch.load_snapshot(saved[0]).get("device_traces") or []):
            named = os.path.join(args.work, "scenario-%s.pickle" % os.path.basename(scenario_dir))
            shutil.copyfile(saved[0], named)
            snapshots.append(named)
    check(len(snapshots) > 4, "whatif: %d snapshots to replay through PyTorch and the model" % len(snapshots))
    agreement = {True: 0, False: 0}
    table = list(whatif_against_torch.TABLE_HEADER)
    whatif_args = argparse.Namespace(oomtrace=args.oomtrace, python=args.python,
                                     work=os.path.join(args.work, "whatif"))
    os.makedirs(whatif_args.work, exist_ok=True)
    for path in snapshots:
        whatif_against_torch.compare(whatif_args, os.path.splitext(os.path.basename(path))[0], path, table, agreement)
    results["passed"] += agreement[True]
    results["failed"] += agreement[False]
    if args.whatif_table:
        with open(args.whatif_table, "w") as out:
            out.write("\n".join(table) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--oomtrace", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--only", help="run one scenario function, e.g. scenario_leak")
    parser.add_argument("--fixtures", help="a folder of real PyTorch snapshots to hold the what-if against")
    parser.add_argument("--whatif-table", help="where to write the what-if agreement table (markdown)")
    parser.add_argument("--real-gpu", action="store_true", help="run on this machine's GPU, not the simulated one")
    parser.add_argument("--table", help="where to write a row per scenario (markdown)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if not args.real_gpu:
        check_runtime_symbols(args)
    for scenario in SCENARIOS:
        if args.only and scenario.__name__ != args.only:
            continue
        scenario(args)
    if args.fixtures:
        check_whatif_agreement(args)
    if args.table:
        write_table(args.table)
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
