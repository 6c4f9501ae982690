#include "report/analysis/torch_attachments.h"

#include <algorithm>
#include <cstdio>

#include "report/common/path_text.h"
#include "report/snapshot/torch_frames.h"
#include "report/snapshot/torch_snapshot_file.h"

namespace oomtrace::report {
namespace {

// The bridge saves 3 by default; a trace listing many more should not make
// the report read gigabytes.
constexpr size_t kMaxSnapshotsRead = 16;

// A snapshot the trace attached, whether or not it could be read.
struct Attached {
  const trace::Attachment* attachment = nullptr;
  std::optional<size_t> report_index;  // into Report::pytorch when it was read
};

std::string resolve(const std::string& trace_path, const std::string& attached_path) {
  if ((!attached_path.empty() && attached_path.front() == '/') || trace_path.empty()) return attached_path;
  return normal_path_beside(trace_path, attached_path);
}

std::string seconds(uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(time_ns) / 1e9);
  return text;
}

std::vector<Attached> load_all(const trace::Trace& trace, Report& report, std::vector<std::string>& notes) {
  std::vector<Attached> attached;
  for (const trace::Attachment& attachment : trace.attachments) {
    if (attachment.kind != kTorchSnapshotAttachment) continue;
    if (attached.size() == kMaxSnapshotsRead) {
      notes.push_back("The trace lists more than " + std::to_string(kMaxSnapshotsRead) +
                             " PyTorch snapshots; only the first " + std::to_string(kMaxSnapshotsRead) + " were read.");
      break;
    }
    std::string path = resolve(trace.path, attachment.path);
    TorchSnapshotResult loaded = load_torch_snapshot(path);
    Attached entry{&attachment, std::nullopt};
    if (loaded.snapshot) {
      entry.report_index = report.pytorch.size();
      TorchSnapshotAnalysis analysis = analyze_torch_snapshot(*loaded.snapshot);
      report.pytorch.push_back({path, attachment.time_ns, {}, std::move(analysis),
                                std::make_shared<const TorchSnapshot>(std::move(*loaded.snapshot))});
    } else {
      notes.push_back("The PyTorch snapshot attached at " + seconds(attachment.time_ns) +
                             " was not used: " + loaded.error + ".");
    }
    attached.push_back(entry);
  }
  // Records are written in time order; sorting keeps that promise anyway.
  std::stable_sort(attached.begin(), attached.end(), [](const Attached& a, const Attached& b) {
    return a.attachment->time_ns < b.attachment->time_ns;
  });
  return attached;
}

void fill_from(FailureReport& failure, const TorchDeviceMemory& device, const TorchSnapshot& snapshot) {
  failure.process_allocated_bytes = device.allocated_bytes;
  failure.largest_free_block_bytes = device.largest_free_block_bytes;
  failure.fragmentation = device.fragmentation;
  if (device.last_oom) failure.python_stack = device.last_oom->python_stack;
  // History off (the bridge's default): the observer's own view of the stack.
  if (failure.python_stack.empty() && snapshot.oom_stack && snapshot.oom_stack->device == device.device) {
    failure.python_stack = python_stack(snapshot, snapshot.oom_stack->stack, kTorchFramesPerBlock);
  }
}

// A failing CUDA call belongs to the first snapshot saved at or after it
// (PyTorch saves it after its retries failed). The exception PyTorch raised
// comes after its observer saved the snapshot, so it belongs to the last one
// saved before it, unless an earlier exception already had that one.
std::vector<Attached>::const_iterator snapshot_of(const std::vector<Attached>& attached, const FailureReport& failure,
                                                  uint64_t previous_exception_ns) {
  if (!failure.from_message) {
    return std::find_if(attached.begin(), attached.end(),
                        [&](const Attached& a) { return a.attachment->time_ns >= failure.time_ns; });
  }
  auto after = std::find_if(attached.begin(), attached.end(),
                            [&](const Attached& a) { return a.attachment->time_ns > failure.time_ns; });
  if (after == attached.begin()) return attached.end();
  auto before = std::prev(after);
  return before->attachment->time_ns >= previous_exception_ns ? before : attached.end();
}

}  // namespace

std::vector<std::string> apply_torch_snapshots(const trace::Trace& trace, Report& report) {
  std::vector<std::string> notes;
  std::vector<Attached> attached = load_all(trace, report, notes);
  uint64_t previous_exception_ns = 0;
  for (size_t i = 0; i < report.failures.size(); ++i) {
    FailureReport& failure = report.failures[i];
    auto next = snapshot_of(attached, failure, previous_exception_ns);
    if (failure.from_message) previous_exception_ns = failure.time_ns + 1;
    if (next == attached.end() || !next->report_index) continue;
    PytorchSnapshotReport& snapshot = report.pytorch[*next->report_index];
    const TorchDeviceMemory* device = find_device(snapshot.analysis, failure.device);
    if (device == nullptr) {
      notes.push_back("The PyTorch snapshot " + snapshot.path + " has nothing on GPU " +
                             std::to_string(failure.device) + ", the device of the failure at " +
                             seconds(failure.time_ns) + ".");
      continue;
    }
    fill_from(failure, *device, *snapshot.snapshot);
    snapshot.failures.push_back(i);
  }
  bool any_history = std::any_of(report.pytorch.begin(), report.pytorch.end(), [](const PytorchSnapshotReport& s) {
    return std::any_of(s.analysis.devices.begin(), s.analysis.devices.end(),
                       [](const TorchDeviceMemory& device) { return device.trace_events > 0; });
  });
  if (!report.pytorch.empty() && !any_history) {
    notes.push_back("PyTorch's allocation history was off (the bridge's default: it costs up to +73% in "
                    "allocation-heavy loops), so the snapshot names no block's Python line and no allocator "
                    "setting was replayed; rerun with OOMTRACE_TORCH_HISTORY=1 for both.");
  }
  return notes;
}

void add_python_leak_sites(Report& report, size_t limit) {
  if (report.pytorch.empty()) return;
  std::vector<TorchAllocationSite> sites;
  for (const TorchDeviceMemory& device : report.pytorch.back().analysis.devices) {
    for (const TorchAllocationSite& site : device.top_sites) {
      // Blocks allocated while the history was off name no line.
      if (site.site != kNoStackSite) sites.push_back(site);
    }
  }
  std::stable_sort(sites.begin(), sites.end(),
                   [](const TorchAllocationSite& a, const TorchAllocationSite& b) { return a.bytes > b.bytes; });
  if (sites.size() > limit) sites.resize(limit);
  report.leak_suspected.python_sites = std::move(sites);
}

}  // namespace oomtrace::report
