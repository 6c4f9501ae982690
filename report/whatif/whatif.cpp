#include "report/whatif/whatif.h"

#include <algorithm>

#include "allocator/caching_allocator/initial_state.h"
#include "report/common/format_bytes.h"

namespace oomtrace::report {
namespace {

using caching::AllocatorConfig;
using caching::ReplayAction;

struct Capacity {
  uint64_t bytes = 0;
  std::string source;
};

// What the recording held from the device just before event `end`.
uint64_t recorded_reserved_before(const caching::Recording& recording, uint64_t initial, size_t end) {
  uint64_t reserved = initial;
  for (size_t i = 0; i < end && i < recording.events.size(); ++i) {
    const caching::ReplayEvent& event = recording.events[i];
    if (event.action == ReplayAction::SegmentAlloc || event.action == ReplayAction::SegmentMap) reserved += event.size;
    if (event.action == ReplayAction::SegmentFree || event.action == ReplayAction::SegmentUnmap) {
      reserved -= std::min(reserved, event.size);
    }
  }
  return reserved;
}

// The memory the process could have held: what the user says; else the
// device less what others held; else, at a recorded out-of-memory, what
// PyTorch held plus what CUDA called free; else what the run did hold at
// its peak (a setting that fits there fits wherever the run fit).
Capacity choose_capacity(const WhatIfInput& input, uint64_t initial_reserved, uint64_t recorded_peak,
                         std::optional<uint64_t> requested) {
  if (requested) return {*requested, "--capacity"};
  if (input.device_total_bytes) {
    if (input.others_bytes && *input.others_bytes < *input.device_total_bytes) {
      return {*input.device_total_bytes - *input.others_bytes,
              "the device's total less what other processes and the CUDA context held at the last failure"};
    }
    return {*input.device_total_bytes, "the device's total"};
  }
  for (auto oom = input.ooms.rbegin(); oom != input.ooms.rend(); ++oom) {
    if (!oom->device_free_bytes) continue;
    uint64_t held = recorded_reserved_before(input.recording, initial_reserved, oom->event);
    return {held + *oom->device_free_bytes, "reserved plus what CUDA reported free at the recorded out-of-memory"};
  }
  return {recorded_peak,
          "the recorded peak reserved, as the input does not say how large the device is: set --capacity"};
}

void add_unique(std::vector<AllocatorConfig>& configs, const AllocatorConfig& config) {
  if (std::find(configs.begin(), configs.end(), config) == configs.end()) configs.push_back(config);
}

// Every row: the recorded settings, what --set asks for, and the sweep.
std::optional<std::vector<AllocatorConfig>> row_configs(const AllocatorConfig& recorded, const WhatIfOptions& options,
                                                        std::string& error) {
  std::vector<AllocatorConfig> configs{recorded};
  for (const std::string& text : options.alternatives) {
    caching::ConfigParse parsed = caching::parse_alloc_conf(text, recorded, caching::ExtraKeys::Accept);
    if (!parsed.config) {
      error = "--set " + parsed.error;
      return std::nullopt;
    }
    add_unique(configs, *parsed.config);
  }
  if (options.sweep || options.alternatives.empty()) {
    for (const AllocatorConfig& config : sweep_alternatives(recorded)) add_unique(configs, config);
  }
  return configs;
}

WhatIfRow replay_row(const caching::Recording& recording, const caching::InitialState& initial,
                     const AllocatorConfig& config, uint64_t capacity) {
  caching::ReplayOptions limited{config, capacity, false, true};
  caching::ReplayResult on_device = caching::replay(recording, initial, limited);
  caching::ReplayOptions unlimited{config, caching::SimulatedDevice::kUnlimited, false, true};
  caching::ReplayResult without_limit = caching::replay(recording, initial, unlimited);
  WhatIfRow row;
  row.settings = caching::describe(config);
  row.config = config;
  row.peak_reserved_bytes = on_device.peak_reserved_bytes;
  row.peak_allocated_bytes = on_device.peak_allocated_bytes;
  row.fragmentation_at_peak = on_device.fragmentation_at_peak;
  row.device_allocations = on_device.device_allocations;
  row.oom_at_event = on_device.first_failure_event;
  row.failed_requests = on_device.failed_requests;
  row.unconstrained_peak_reserved_bytes = without_limit.peak_reserved_bytes;
  return row;
}

void add_notes(const caching::InitialState& initial, const caching::ReplayResult& reproduced,
               const std::vector<WhatIfRow>& rows, WhatIfAnalysis& analysis) {
  if (!initial.segments.empty()) {
    size_t blocks = 0;
    for (const auto& segment : initial.segments) blocks += segment.blocks.size();
    analysis.notes.push_back("the recording starts mid-run: " + std::to_string(initial.segments.size()) +
                             " segments (" + format_bytes(initial.reserved_bytes) + ") holding " +
                             std::to_string(blocks) +
                             " blocks existed before its first event; rebuilt from the trace and the final state");
  }
  if (initial.blocks_outside_segments > 0) {
    analysis.notes.push_back(std::to_string(initial.blocks_outside_segments) +
                             " blocks freed before the first event lie in no known segment and were left out");
  }
  if (reproduced.initial_segments_refused > 0) {
    analysis.notes.push_back(std::to_string(reproduced.initial_segments_refused) +
                             " segments held before the first event could not be rebuilt and were left out");
  }
  for (const WhatIfRow& row : rows) {
    if (row.config.garbage_collection_threshold > 0 && !row.config.memory_fraction) {
      analysis.notes.push_back("garbage_collection_threshold acts only under a per-process memory fraction "
                               "(torch.cuda.set_per_process_memory_fraction; --set per_process_memory_fraction:F)");
      break;
    }
  }
}

}  // namespace

size_t settings_changed(const WhatIfRow& row, const WhatIfRow& recorded) {
  if (row.settings == "defaults") return 0;
  std::string have = "," + recorded.settings + ",";
  size_t changed = 0;
  size_t start = 0;
  while (start <= row.settings.size()) {
    size_t end = std::min(row.settings.find(',', start), row.settings.size());
    if (have.find("," + row.settings.substr(start, end - start) + ",") == std::string::npos) ++changed;
    start = end + 1;
  }
  return changed;
}

std::vector<size_t> rank_whatif_rows(const std::vector<WhatIfRow>& rows) {
  uint64_t least_peak = UINT64_MAX;
  for (const WhatIfRow& row : rows) {
    if (!row.oom_at_event) least_peak = std::min(least_peak, row.peak_reserved_bytes);
  }
  // Per row, once: whether it fits within the tolerance of the least peak,
  // and then how many settings it adds (0 for the others, unused).
  std::vector<bool> near_least(rows.size());
  std::vector<size_t> added(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    near_least[i] = !rows[i].oom_at_event && static_cast<double>(rows[i].peak_reserved_bytes) <=
                                                 static_cast<double>(least_peak) * (1 + kPeakTolerance);
    if (near_least[i]) added[i] = settings_changed(rows[i], rows.front());
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const WhatIfRow& x = rows[a];
    const WhatIfRow& y = rows[b];
    if (x.oom_at_event.has_value() != y.oom_at_event.has_value()) return !x.oom_at_event;
    if (x.oom_at_event && *x.oom_at_event != *y.oom_at_event) return *x.oom_at_event > *y.oom_at_event;
    if (near_least[a] != near_least[b]) return static_cast<bool>(near_least[a]);
    if (added[a] != added[b]) return added[a] < added[b];
    if (x.peak_reserved_bytes != y.peak_reserved_bytes) return x.peak_reserved_bytes < y.peak_reserved_bytes;
    return x.device_allocations < y.device_allocations;
  });
  return order;
}

const WhatIfRow* WhatIfAnalysis::recommendation() const {
  if (ranking.empty() || rows[ranking.front()].oom_at_event) return nullptr;
  return &rows[ranking.front()];
}

std::vector<AllocatorConfig> sweep_alternatives(const AllocatorConfig& recorded) {
  std::vector<AllocatorConfig> configs;
  AllocatorConfig plain = recorded;  // expandable segments off
  plain.expandable_segments = false;
  AllocatorConfig expandable = recorded;
  expandable.expandable_segments = true;
  expandable.max_split_size = caching::kNoMaxSplitSize;  // together they crashed PyTorch (#123548)
  add_unique(configs, expandable);
  for (uint64_t mb : {64, 128, 256, 512, 1024}) {
    AllocatorConfig config = plain;
    config.max_split_size = mb * caching::kMiB;
    add_unique(configs, config);
  }
  for (uint32_t divisions : {4u, 8u}) {
    AllocatorConfig config = recorded;
    config.roundup_power2_divisions.fill(divisions);
    add_unique(configs, config);
  }
  // Rounding helps most where it lets blocks be reused: with either remedy.
  AllocatorConfig expandable_rounded = expandable;
  expandable_rounded.roundup_power2_divisions.fill(4);
  add_unique(configs, expandable_rounded);
  for (uint64_t mb : {128, 512}) {
    AllocatorConfig config = plain;
    config.max_split_size = mb * caching::kMiB;
    config.roundup_power2_divisions.fill(4);
    add_unique(configs, config);
  }
  AllocatorConfig defaults;
  defaults.memory_fraction = recorded.memory_fraction;
  add_unique(configs, defaults);
  std::erase(configs, recorded);
  return configs;
}

WhatIfResult analyze_whatif(const WhatIfInput& input, const WhatIfOptions& options) {
  WhatIfResult result;
  const caching::Recording& recording = input.recording;
  std::optional<std::vector<AllocatorConfig>> configs = row_configs(recording.config, options, result.error);
  if (!configs) return result;
  caching::InitialState initial = caching::reconstruct_initial_state(recording);
  caching::ReplayOptions reproduce{recording.config, caching::SimulatedDevice::kUnlimited, true, false};
  caching::ReplayResult reproduced = caching::replay(recording, initial, reproduce);

  WhatIfAnalysis analysis;
  analysis.input_kind = input.kind;
  analysis.device = input.device;
  analysis.events = recording.events.size();
  analysis.recorded_settings = caching::describe(recording.config);
  analysis.settings_origin = input.settings_origin;
  analysis.fidelity = {reproduced.fidelity, reproduced.recorded_peak_reserved_bytes, reproduced.peak_reserved_bytes};
  Capacity capacity =
      choose_capacity(input, initial.reserved_bytes, reproduced.recorded_peak_reserved_bytes, options.capacity);
  analysis.capacity_bytes = capacity.bytes;
  analysis.capacity_source = capacity.source;
  for (const AllocatorConfig& config : *configs) {
    analysis.rows.push_back(replay_row(recording, initial, config, capacity.bytes));
  }
  analysis.rows.front().recorded = true;
  analysis.ranking = rank_whatif_rows(analysis.rows);
  analysis.notes = input.notes;
  add_notes(initial, reproduced, analysis.rows, analysis);
  result.analysis = std::move(analysis);
  return result;
}

WhatIfResult analyze_whatif(const TorchSnapshot& snapshot, const WhatIfOptions& options) {
  WhatIfInputResult input = whatif_input_from_snapshot(snapshot, options.device);
  if (!input.input) return {std::nullopt, input.error};
  return analyze_whatif(*input.input, options);
}

WhatIfResult analyze_whatif(const trace::Trace& trace, const WhatIfOptions& options) {
  WhatIfInputResult input = whatif_input_from_trace(trace, options.device);
  if (!input.input) return {std::nullopt, input.error};
  return analyze_whatif(*input.input, options);
}

namespace {

std::optional<BestSetting> best_of(const WhatIfResult& result) {
  if (!result.analysis) return std::nullopt;
  const WhatIfRow* best = result.analysis->recommendation();
  if (!best) return std::nullopt;
  return BestSetting{best->settings, best->config, best->peak_reserved_bytes, best->recorded};
}

}  // namespace

WhatIfOptions sweep_options(std::optional<uint64_t> capacity, std::optional<int> device) {
  WhatIfOptions options;
  options.capacity = capacity;
  options.sweep = true;
  options.device = device;
  return options;
}

std::optional<BestSetting> best_setting(const TorchSnapshot& snapshot, std::optional<uint64_t> capacity) {
  return best_of(analyze_whatif(snapshot, sweep_options(capacity)));
}

std::optional<BestSetting> best_setting(const trace::Trace& trace, std::optional<uint64_t> capacity) {
  return best_of(analyze_whatif(trace, sweep_options(capacity)));
}

}  // namespace oomtrace::report
