// What the HTML report draws besides the Report itself, worked out in one
// more pass over the trace: the timeline of each device, and for each
// failure the segment map, the free-block histogram, the allocation sites
// holding the most live memory, and the what-if table of its replay.
// Only `oomtrace report --format html` computes it; the text and JSON
// reports do not pay for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/analysis/segment_map.h"
#include "report/analysis/timeline.h"
#include "report/symbols/frame_symbolizer.h"
#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

// Failures given a segment map and sites: the ones that stopped the job
// first, then the earliest.
inline constexpr size_t kDetailedFailures = 8;
inline constexpr size_t kTopLiveSites = 10;

// Live device memory grouped by the stack that allocated it.
struct LiveSite {
  std::string frame;               // the first frame outside the CUDA libraries and oomtrace
  std::vector<std::string> stack;  // innermost first
  uint64_t bytes = 0;
  uint64_t count = 0;
};

// One setting the replay tried (report/whatif/whatif.h's WhatIfRow).
struct WhatIfTableRow {
  std::string settings;
  bool recorded = false;
  bool recommended = false;
  uint64_t peak_reserved_bytes = 0;
  uint64_t peak_allocated_bytes = 0;
  double fragmentation_at_peak = 0;
  uint64_t device_allocations = 0;
  std::optional<uint64_t> oom_at_event;  // nullopt: every request fits
};

struct FailureVisuals {
  size_t failure = 0;  // index into Report::failures
  SegmentMap segment_map;
  std::vector<LiveSite> top_sites;                 // most live bytes first (the trace's native stacks)
  std::vector<TorchAllocationSite> python_sites;   // from the PyTorch snapshot, when one is attached
  std::vector<WhatIfTableRow> whatif;              // best first; empty without a replay finding
};

struct ReportVisuals {
  Timeline timeline;
  std::vector<FailureVisuals> failures;  // in Report::failures order
  size_t failures_not_detailed = 0;
  // A PyTorch snapshot read on its own: one map per device it holds.
  std::vector<SegmentMap> snapshot_maps;
};

// The symbolizer, when given, gives the live sites' stacks file and line,
// as analyze() does for the report's own stacks.
ReportVisuals analyze_visuals(const trace::Trace& trace, const Report& report,
                              FrameSymbolizer* symbolizer = nullptr);
// For `oomtrace report snapshot.pickle --format html`: no timeline, no failures.
ReportVisuals visuals_for_snapshot(const TorchSnapshot& snapshot);

}  // namespace oomtrace::report
