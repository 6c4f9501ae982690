// "Which allocator setting would have avoided this out-of-memory?" The
// recorded request sequence (a PyTorch snapshot's trace, or an oomtrace
// trace with pool blocks) replayed through the caching-allocator model
// (allocator/caching_allocator/) under the recorded settings and under
// alternatives: per setting the peak reserved and allocated memory,
// fragmentation at the peak, device allocations, and whether a request
// would fail on a device of the given capacity. docs/whatif.md says how
// each figure is worked out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocator/caching_allocator/allocator_config.h"
#include "allocator/caching_allocator/replayer.h"
#include "report/snapshot/torch_snapshot.h"
#include "report/whatif/whatif_inputs.h"
#include "trace/reader.h"

namespace oomtrace::report {

struct WhatIfOptions {
  std::optional<uint64_t> capacity;       // default: see capacity_source
  std::vector<std::string> alternatives;  // PYTORCH_CUDA_ALLOC_CONF strings, each on top of the recorded settings
  bool sweep = false;                     // add the standard alternatives (sweep_alternatives)
  std::optional<int> device;              // default: the device with the most events
};

struct WhatIfRow {
  std::string settings;  // as PYTORCH_CUDA_ALLOC_CONF would say it; "defaults" for none
  caching::AllocatorConfig config;
  bool recorded = false;  // the run's own settings
  uint64_t peak_reserved_bytes = 0;
  uint64_t peak_allocated_bytes = 0;
  double fragmentation_at_peak = 0;
  uint64_t device_allocations = 0;
  std::optional<uint64_t> oom_at_event;  // index in the input's own event list
  uint64_t failed_requests = 0;
  uint64_t unconstrained_peak_reserved_bytes = 0;  // what the setting needs with no limit
};

struct WhatIfFidelity {
  caching::Fidelity counts;
  uint64_t recorded_peak_reserved_bytes = 0;
  uint64_t modelled_peak_reserved_bytes = 0;
};

// Settings whose predicted peaks lie within this share of the least rank as
// equals, the one that changes fewest of the recorded settings first.
constexpr double kPeakTolerance = 0.02;

struct WhatIfAnalysis {
  std::string input_kind;  // "pytorch-snapshot", "oomtrace-trace"
  int device = 0;
  uint64_t events = 0;
  std::string recorded_settings;
  std::string settings_origin;
  uint64_t capacity_bytes = 0;
  std::string capacity_source;
  WhatIfFidelity fidelity;
  std::vector<WhatIfRow> rows;  // the recorded settings first, then the alternatives
  std::vector<size_t> ranking;  // indices into rows, best first
  std::vector<std::string> notes;

  // The best row that avoids the failure (see kPeakTolerance); nullptr when
  // none does.
  const WhatIfRow* recommendation() const;
};

struct WhatIfResult {
  std::optional<WhatIfAnalysis> analysis;
  std::string error;  // one line when analysis is empty
};

// How many of the settings `row` names the recorded row does not have.
size_t settings_changed(const WhatIfRow& row, const WhatIfRow& recorded);
// Indices into rows (the recorded ones first), best first: settings that
// avoid the failure, those within kPeakTolerance of the least peak by how
// few settings they add (a second knob that saves under 2 % is not worth
// asking a user to set) and then by peak; the rest by how late they fail.
std::vector<size_t> rank_whatif_rows(const std::vector<WhatIfRow>& rows);

WhatIfResult analyze_whatif(const WhatIfInput& input, const WhatIfOptions& options);
WhatIfResult analyze_whatif(const TorchSnapshot& snapshot, const WhatIfOptions& options);
WhatIfResult analyze_whatif(const trace::Trace& trace, const WhatIfOptions& options);

// The options of a sweep (the recorded settings and every alternative) at
// `capacity`, on `device` (default: the device with the most events).
WhatIfOptions sweep_options(std::optional<uint64_t> capacity, std::optional<int> device = std::nullopt);

// The alternatives --sweep tries, built on the recorded settings.
std::vector<caching::AllocatorConfig> sweep_alternatives(const caching::AllocatorConfig& recorded);

// For the failure report: the setting that avoids the out-of-memory with
// the lowest peak reserved, and that peak. nullopt when the input cannot be
// replayed or no setting of the sweep avoids it.
struct BestSetting {
  std::string settings;
  caching::AllocatorConfig config;
  uint64_t predicted_peak_reserved_bytes = 0;
  bool is_recorded = false;  // the run's own settings were already best
};
std::optional<BestSetting> best_setting(const TorchSnapshot& snapshot, std::optional<uint64_t> capacity);
std::optional<BestSetting> best_setting(const trace::Trace& trace, std::optional<uint64_t> capacity);

}  // namespace oomtrace::report
