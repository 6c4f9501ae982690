// What a trace says, worked out once by analyze() and rendered as JSON or
// text. Plain data: renderers only read it, so both formats always agree.
// std::nullopt means "unknown", never zero.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "allocator/api.h"
#include "report/snapshot/snapshot_analysis.h"

namespace oomtrace::report {

struct ProcessSummary {
  std::optional<uint32_t> pid;
  std::string host;
  std::string executable;
  std::vector<std::string> argv;
  // In a distributed job (torchrun, Slurm, MPI): from the launcher's
  // environment, recorded since trace format 1.4.
  std::optional<uint32_t> rank;
  std::optional<uint32_t> local_rank;
  std::optional<uint32_t> world_size;
};

struct DeviceSummary {
  int index = 0;
  std::optional<std::string> name;
  std::optional<uint64_t> total_bytes;
  uint64_t peak_reserved_bytes = 0;
};

struct Totals {
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t failed_allocations = 0;
  uint64_t unmatched_frees = 0;
  // Pool API calls (include/oomtrace/oomtrace.h) on memory no segment held,
  // or freeing blocks never reported.
  uint64_t unmatched_pool_calls = 0;
};

struct HostPinned {
  uint64_t peak_bytes = 0;
  uint64_t live_bytes = 0;
};

struct OtherProcess {
  uint32_t pid = 0;
  uint64_t used_bytes = 0;
};

struct Suggestion {
  std::string setting;
  std::string reason;
};

enum class Verdict {
  ExceedsCapacity,
  Fragmentation,
  OtherProcesses,
  Exhausted,
  Limit,  // a configured cap, not the device, refused the request
};

// What can cap a process below the device's capacity.
enum class CapKind {
  PyTorchMemoryFraction,  // torch.cuda.set_per_process_memory_fraction ("N allowed")
  CuPyPoolLimit,          // CUPY_GPU_MEMORY_LIMIT or MemoryPool.set_limit
  XlaMemoryFraction,      // XLA_PYTHON_CLIENT_MEM_FRACTION
  TensorFlowHostLimit,    // TF_GPU_HOST_MEM_LIMIT_IN_MB (pinned host memory)
  PlatformBlockLimit,     // the largest single allocation a platform allows
};

struct MemoryCap {
  CapKind kind = CapKind::PyTorchMemoryFraction;
  uint64_t bytes = 0;
  // The failing allocator printed the cap itself, so it checked it before
  // asking the device; a cap known only from the settings did not
  // necessarily take part in a failure that a CUDA call reported.
  bool stated_by_failure = false;
};

// What replaying the recorded requests through the model of PyTorch's
// caching allocator (oomtrace whatif, docs/whatif.md) says of one failure:
// whether the recorded settings fail there too, and the setting of the
// sweep that avoids it with the lowest peak.
struct ReplayFinding {
  std::string input_kind;  // "pytorch-snapshot" or "oomtrace-trace"
  std::string input_path;  // the snapshot or the trace replayed
  uint64_t events = 0;     // replayed events of the failure's device
  uint64_t capacity_bytes = 0;
  std::string capacity_source;
  std::string recorded_settings;  // "defaults" when none
  std::optional<uint64_t> recorded_oom_at_event;  // nullopt: the recorded settings fit in the replay
  double fidelity = 0;  // share of recorded placements reproduced (1 when none were recorded)
  std::optional<std::string> recommended_settings;  // nullopt: no setting of the sweep avoids it
  std::optional<uint64_t> predicted_peak_reserved_bytes;
  bool recorded_is_best = false;  // the recorded settings already fit, at the lowest peak
};

struct FailureReport {
  Api api = Api::Unknown;
  int device = 0;
  std::optional<std::string> device_name;
  uint64_t requested_bytes = 0;
  std::optional<uint64_t> device_total_bytes;
  std::optional<uint64_t> device_free_bytes;
  uint64_t process_reserved_bytes = 0;
  uint32_t process_segments = 0;
  // The framework's sub-allocations inside its segments: invisible at the
  // driver level, kept so a framework-aware source can fill it later.
  std::optional<uint64_t> process_allocated_bytes;
  std::optional<uint64_t> other_bytes;  // total - free - process_reserved
  bool nvml_known = false;
  std::vector<OtherProcess> other_processes;
  std::optional<uint64_t> largest_free_block_bytes;
  std::optional<double> fragmentation;
  bool recovered = false;
  // Bytes the process gave back between the failure and its next successful
  // allocation on the device: a caching allocator emptying its cache.
  uint64_t released_after_bytes = 0;

  // "pytorch", "tensorflow", "jax", "cupy", ... when known (explain knows
  // it from the message; a trace rarely says).
  std::optional<std::string> framework;
  std::optional<MemoryCap> cap;
  // The figures were read from a framework's error message (oomtrace
  // explain), not measured by the library: no stack, no recovery known.
  bool from_message = false;

  std::optional<Verdict> verdict;
  std::string explanation;
  std::vector<Suggestion> suggestions;
  std::optional<ReplayFinding> replay;

  std::vector<std::string> stack;  // innermost first
  // The Python frames of the failing allocation ("train.py:42 in step"),
  // innermost first, from the PyTorch snapshot saved at the failure.
  std::vector<std::string> python_stack;
  uint64_t time_ns = 0;
  uint32_t thread = 0;
  // In a process `oomtrace attach` joined: what it held on this device
  // before the attach (origin unknown), counted in process_reserved_bytes.
  uint64_t held_before_attach_bytes = 0;
};

struct LiveAllocationSummary {
  Api api = Api::Unknown;
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t time_ns = 0;
  uint32_t thread = 0;
  std::vector<std::string> stack;
};

struct LiveOnDevice {
  int device = 0;
  uint64_t bytes = 0;
  uint64_t count = 0;
  std::vector<LiveAllocationSummary> top;  // largest first, at most kTopLive
};

inline constexpr size_t kTopLive = 10;

struct TraceSummary {
  std::string path;  // absolute when it could be made so
  bool complete = false;
  std::optional<std::string> exit_reason;
  uint64_t events = 0;
  std::string format_version;
  std::string description;  // how the trace ended, in words
};

struct SettingEntry {
  std::string key;
  std::string value;
};

// A site whose live device memory grew over the run.
struct LeakSite {
  std::string frame;               // the first frame outside the CUDA libraries
  std::vector<std::string> stack;  // innermost first
  uint64_t growth_bytes = 0;
  uint64_t count = 0;              // live allocations it gained
};

// Live device memory that kept growing: a report-level signal, not a verdict.
struct LeakSignal {
  bool suspected = false;
  uint64_t growth_bytes = 0;
  std::string explanation;
  std::vector<LeakSite> sites;  // largest growth first
  // Where the live memory was allocated in Python, from the last PyTorch
  // snapshot the bridge saved: the line that keeps allocating. Most bytes
  // first, at most kLeakSitesShown; empty without a snapshot.
  std::vector<TorchAllocationSite> python_sites;
};

// A PyTorch memory snapshot read for this report: the file given to
// `oomtrace report` itself, or one the trace lists as an attachment (the
// Python bridge saves one at each out-of-memory).
struct PytorchSnapshotReport {
  std::string path;
  std::optional<uint64_t> time_ns;  // when the trace recorded it; null for a snapshot read on its own
  std::vector<size_t> failures;     // indices into Report::failures whose figures came from it
  TorchSnapshotAnalysis analysis;
  std::shared_ptr<const TorchSnapshot> snapshot;  // kept for the replay; not rendered
};

// One device when `oomtrace attach` joined the process.
struct AttachDevice {
  int device = 0;
  std::optional<uint64_t> total_bytes;
  std::optional<uint64_t> free_bytes;
  std::optional<uint64_t> process_bytes;  // NVML's figure for the process
  // What the report counts as held before attach: NVML's figure, else the
  // device's used memory (all of it taken for the process's, origin unknown).
  uint64_t held_bytes = 0;
};

struct AttachPathSummary {
  std::string name;
  bool covered = false;
  std::string detail;
};

// A process that `oomtrace attach` joined mid-run: the baseline it held
// then, and which ways of reaching the driver the library saw. Totals and
// the live memory count only what happened after the attach.
struct AttachSummary {
  uint64_t unix_ns = 0;
  std::optional<uint32_t> outer_pid;
  uint64_t baseline_device_used_bytes = 0;           // sum of total - free where known
  std::optional<uint64_t> baseline_process_bytes;    // sum of NVML's figures, when NVML answered
  std::vector<AttachDevice> devices;
  std::vector<AttachPathSummary> paths;
};

// What `oomtrace report` was given: a trace, or a PyTorch snapshot alone.
enum class ReportInput { Trace, TorchSnapshot };

struct Report {
  ProcessSummary process;
  std::vector<DeviceSummary> devices;
  Totals totals;
  HostPinned host_pinned;
  std::vector<FailureReport> failures;  // in call order
  std::vector<LiveOnDevice> live_at_end;
  LeakSignal leak_suspected;
  TraceSummary trace;
  std::vector<SettingEntry> settings;
  // The spec of `oomtrace run --simulate-gpu` when the process ran on the
  // simulated device instead of a real one.
  std::optional<std::string> simulated_gpu;
  std::optional<AttachSummary> attach;
  std::vector<std::string> notes;
  // Native frames were read back as function, file and line (analyze() had
  // a symbolizer): the text report then folds the libraries' frames.
  bool symbolized = false;
  ReportInput input = ReportInput::Trace;
  std::vector<PytorchSnapshotReport> pytorch;
};

std::string verdict_name(Verdict verdict);
std::string cap_kind_name(CapKind kind);

}  // namespace oomtrace::report
