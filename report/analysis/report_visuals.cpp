#include "report/analysis/report_visuals.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "report/analysis/stack_text.h"
#include "report/whatif/whatif.h"

namespace oomtrace::report {
namespace {

// The failures to detail: those not recovered (what stopped the job), the
// latest first, then the recovered ones from the earliest; in report order.
std::vector<size_t> failures_to_detail(const Report& report) {
  std::vector<size_t> chosen;
  for (size_t i = report.failures.size(); i-- > 0 && chosen.size() < kDetailedFailures;) {
    if (!report.failures[i].recovered) chosen.push_back(i);
  }
  for (size_t i = 0; i < report.failures.size() && chosen.size() < kDetailedFailures; ++i) {
    if (report.failures[i].recovered) chosen.push_back(i);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// The frame a person looks for: the first outside the CUDA libraries and
// oomtrace itself (the same choice the leak sites make).
std::string program_frame(const std::vector<std::string>& stack) {
  for (const std::string& frame : stack) {
    bool plumbing = frame.find("libcudart") != std::string::npos || frame.find("libcuda.") != std::string::npos ||
                    frame.find("liboomtrace") != std::string::npos;
    if (!plumbing) return frame;
  }
  return stack.empty() ? std::string("(no stack recorded)") : stack.front();
}

std::vector<LiveSite> top_live_sites(const trace::Trace& trace, const ProcessMemory& memory, int device,
                                     FrameSymbolizer* symbolizer) {
  std::unordered_map<uint32_t, LiveSite> by_stack;
  for (const LiveAllocation& allocation : memory.live_on_device(device)) {
    LiveSite& site = by_stack[allocation.stack_id];
    site.bytes += allocation.size;
    ++site.count;
  }
  std::vector<std::pair<uint32_t, LiveSite>> sites(by_stack.begin(), by_stack.end());
  std::sort(sites.begin(), sites.end(), [](const auto& a, const auto& b) {
    return a.second.bytes != b.second.bytes ? a.second.bytes > b.second.bytes : a.first < b.first;
  });
  if (sites.size() > kTopLiveSites) sites.resize(kTopLiveSites);
  std::vector<LiveSite> result;
  for (auto& [stack_id, site] : sites) {
    site.stack = describe_stack(trace, stack_id, symbolizer);
    site.frame = program_frame(site.stack);
    result.push_back(std::move(site));
  }
  return result;
}

// A failure the trace recorded as a failed call is pictured just before
// that call; one only the framework saw (its exception) after the last
// event before its time.
size_t instant_of(const trace::Trace& trace, const FailureReport& failure, std::vector<bool>& used) {
  for (size_t j = 0; j < trace.failures.size(); ++j) {
    const Event& event = trace.failures[j].context.event;
    if (used[j] || event.time_ns != failure.time_ns || event.device != failure.device ||
        event.size != failure.requested_bytes) {
      continue;
    }
    used[j] = true;
    return trace.failures[j].event_index;
  }
  auto after = std::partition_point(trace.events.begin(), trace.events.end(),
                                    [&](const Event& event) { return event.time_ns <= failure.time_ns; });
  return static_cast<size_t>(after - trace.events.begin());
}

const PytorchSnapshotReport* snapshot_of(const Report& report, size_t failure) {
  for (const PytorchSnapshotReport& snapshot : report.pytorch) {
    if (!snapshot.snapshot) continue;
    if (std::find(snapshot.failures.begin(), snapshot.failures.end(), failure) != snapshot.failures.end()) {
      return &snapshot;
    }
  }
  return nullptr;
}

// The device whose memory an event changes, asked before it is applied:
// frees and pool calls are recorded without one, and belong to the device
// of the segment their address lies in.
int device_of(const Event& event, const ProcessMemory& memory) {
  if (event.device != kHostDevice) return event.device;
  return memory.device_containing(event.address);
}

uint64_t last_time(const trace::Trace& trace, const Report& report) {
  uint64_t end = 0;
  for (const Event& event : trace.events) end = std::max(end, event.time_ns);
  for (const FailureReport& failure : report.failures) end = std::max(end, failure.time_ns);
  return end;
}

class VisualsPass {
 public:
  VisualsPass(const trace::Trace& trace, const Report& report, FrameSymbolizer* symbolizer)
      : trace_(trace), report_(report), symbolizer_(symbolizer), timeline_(last_time(trace, report)) {
    std::vector<bool> used(trace.failures.size(), false);
    for (size_t index : failures_to_detail(report)) {
      pending_.emplace(instant_of(trace, report.failures[index], used), index);
    }
  }

  ReportVisuals run() {
    for (size_t i = 0; i < trace_.events.size(); ++i) {
      picture_failures_at(i);
      const Event& event = trace_.events[i];
      int device = event.type == EventType::AllocFailed ? kHostDevice : device_of(event, memory_);
      memory_.apply(event);
      if (device != kHostDevice) record(device, event.time_ns);
    }
    picture_failures_at(SIZE_MAX);
    ReportVisuals visuals;
    visuals.timeline = timeline_.finish(report_);
    for (auto& [index, failure] : pictured_) visuals.failures.push_back(std::move(failure));
    visuals.failures_not_detailed = report_.failures.size() - visuals.failures.size();
    return visuals;
  }

 private:
  void record(int device, uint64_t time_ns) {
    BlockFigures blocks = memory_.block_figures(device);
    std::optional<uint64_t> allocated;
    if (blocks.sub_allocated_segments > 0) allocated = blocks.allocated_bytes;
    timeline_.record(device, time_ns, memory_.device(device).reserved_bytes, allocated);
  }

  void picture_failures_at(size_t event_index) {
    while (!pending_.empty() && pending_.begin()->first <= event_index) {
      size_t index = pending_.begin()->second;
      pending_.erase(pending_.begin());
      pictured_.emplace(index, picture(index));
    }
  }

  FailureVisuals picture(size_t index) {
    const FailureReport& failure = report_.failures[index];
    FailureVisuals visuals;
    visuals.failure = index;
    const PytorchSnapshotReport* snapshot = snapshot_of(report_, index);
    if (snapshot && find_device(snapshot->analysis, failure.device)) {
      visuals.segment_map = segment_map_from_snapshot(*snapshot->snapshot, failure.device, failure.requested_bytes);
      visuals.python_sites = find_device(snapshot->analysis, failure.device)->top_sites;
    } else {
      visuals.segment_map = segment_map_from_model(memory_, failure.device, failure.requested_bytes);
    }
    visuals.top_sites = top_live_sites(trace_, memory_, failure.device, symbolizer_);
    return visuals;
  }

  const trace::Trace& trace_;
  const Report& report_;
  FrameSymbolizer* symbolizer_;
  ProcessMemory memory_;
  TimelineBuilder timeline_;
  std::multimap<size_t, size_t> pending_;  // event index -> failure index
  std::map<size_t, FailureVisuals> pictured_;
};

std::vector<WhatIfTableRow> table_of(const WhatIfAnalysis& analysis, const ReplayFinding& finding) {
  std::vector<WhatIfTableRow> rows;
  for (size_t index : analysis.ranking) {
    const WhatIfRow& row = analysis.rows[index];
    bool recommended = finding.recommended_settings && row.settings == *finding.recommended_settings;
    rows.push_back({row.settings, row.recorded, recommended, row.peak_reserved_bytes, row.peak_allocated_bytes,
                    row.fragmentation_at_peak, row.device_allocations, row.oom_at_event});
  }
  return rows;
}

// The sweep behind each replay finding, again, to show every setting it
// tried; failures that share an input and capacity share one sweep.
void add_whatif_tables(const trace::Trace& trace, const Report& report, std::vector<FailureVisuals>& failures) {
  std::map<std::tuple<std::string, int, uint64_t>, std::optional<WhatIfAnalysis>> sweeps;
  for (FailureVisuals& visuals : failures) {
    const FailureReport& failure = report.failures[visuals.failure];
    if (!failure.replay) continue;
    const ReplayFinding& finding = *failure.replay;
    auto key = std::make_tuple(finding.input_path, failure.device, finding.capacity_bytes);
    auto found = sweeps.find(key);
    if (found == sweeps.end()) {
      WhatIfOptions options = sweep_options(finding.capacity_bytes, failure.device);
      WhatIfResult result;
      const PytorchSnapshotReport* snapshot = snapshot_of(report, visuals.failure);
      if (finding.input_kind == "pytorch-snapshot" && snapshot) {
        result = analyze_whatif(*snapshot->snapshot, options);
      } else if (finding.input_kind == "oomtrace-trace") {
        result = analyze_whatif(trace, options);
      }
      found = sweeps.emplace(key, std::move(result.analysis)).first;
    }
    if (found->second) visuals.whatif = table_of(*found->second, finding);
  }
}

}  // namespace

ReportVisuals analyze_visuals(const trace::Trace& trace, const Report& report, FrameSymbolizer* symbolizer) {
  ReportVisuals visuals = VisualsPass(trace, report, symbolizer).run();
  add_whatif_tables(trace, report, visuals.failures);
  return visuals;
}

ReportVisuals visuals_for_snapshot(const TorchSnapshot& snapshot) {
  ReportVisuals visuals;
  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(snapshot);
  for (const TorchDeviceMemory& device : analysis.devices) {
    uint64_t requested = device.last_oom ? device.last_oom->requested_bytes : 0;
    visuals.snapshot_maps.push_back(segment_map_from_snapshot(snapshot, device.device, requested));
  }
  return visuals;
}

}  // namespace oomtrace::report
