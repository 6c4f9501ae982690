// A PyTorch snapshot as a recording: one device's trace entries, the
// segments it ends with, and the allocator settings it reports.
#include <algorithm>
#include <bit>

#include <nlohmann/json.hpp>

#include "report/whatif/whatif_inputs.h"

namespace oomtrace::report {
namespace {

using caching::AllocatorConfig;
using caching::ReplayAction;

std::optional<ReplayAction> replay_action(TorchTraceAction action) {
  switch (action) {
    case TorchTraceAction::Alloc: return ReplayAction::Alloc;
    case TorchTraceAction::FreeRequested: return ReplayAction::FreeRequested;
    case TorchTraceAction::FreeCompleted: return ReplayAction::FreeCompleted;
    case TorchTraceAction::SegmentAlloc: return ReplayAction::SegmentAlloc;
    case TorchTraceAction::SegmentFree: return ReplayAction::SegmentFree;
    case TorchTraceAction::SegmentMap: return ReplayAction::SegmentMap;
    case TorchTraceAction::SegmentUnmap: return ReplayAction::SegmentUnmap;
    case TorchTraceAction::Oom: return ReplayAction::Oom;
    default: return std::nullopt;  // snapshot markers and unknown names change nothing
  }
}

// The device with the most trace entries (the lowest on a tie).
std::optional<int> busiest_device(const TorchSnapshot& snapshot) {
  std::optional<int> best;
  for (size_t d = 0; d < snapshot.device_traces.size(); ++d) {
    if (snapshot.device_traces[d].empty()) continue;
    if (!best || snapshot.device_traces[d].size() > snapshot.device_traces[static_cast<size_t>(*best)].size()) {
      best = static_cast<int>(d);
    }
  }
  return best;
}

void convert_events(const std::vector<TorchTraceEntry>& entries, WhatIfInput& input) {
  auto& events = input.recording.events;
  events.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const TorchTraceEntry& entry = entries[i];
    std::optional<ReplayAction> action = replay_action(entry.action);
    if (!action) continue;
    if (*action == ReplayAction::Oom) input.ooms.push_back({events.size(), entry.device_free_bytes});
    // PyTorch writes the free memory into an oom entry's address.
    uint64_t address = *action == ReplayAction::Oom ? 0 : entry.address;
    events.push_back({*action, address, entry.size, static_cast<uint64_t>(entry.stream), i});
  }
}

std::vector<caching::RecordedSegment> final_segments(const TorchSnapshot& snapshot, int device) {
  std::vector<caching::RecordedSegment> segments;
  for (const TorchSegment& segment : snapshot.segments) {
    if (segment.device != device) continue;
    caching::RecordedSegment recorded{segment.address, segment.total_size, static_cast<uint64_t>(segment.stream),
                                      segment.type == TorchSegmentType::Small, segment.is_expandable, {}};
    for (const TorchBlock& block : segment.blocks) {
      recorded.blocks.push_back({block.address, block.size, block.state != TorchBlockState::Inactive,
                                 block.state == TorchBlockState::ActivePendingFree});
    }
    segments.push_back(std::move(recorded));
  }
  return segments;
}

// {"1": 0, "2": 0, ..., "32768": 0}: divisions per interval, keyed by the
// interval's start in MiB.
void read_divisions(const nlohmann::json& value, AllocatorConfig& config) {
  if (!value.is_object()) return;
  for (const auto& [key, divisions] : value.items()) {
    uint64_t mb = 0;
    try {
      mb = std::stoull(key);
    } catch (const std::exception&) {
      continue;
    }
    if (!std::has_single_bit(mb) || !divisions.is_number_unsigned()) continue;
    size_t index = std::min<size_t>(std::bit_width(mb) - 1, caching::kRoundupIntervals - 1);
    config.roundup_power2_divisions[index] = divisions.get<uint32_t>();
  }
}

void read_setting(const std::string& key, const nlohmann::json& value, AllocatorConfig& config) {
  if (key == "max_split_size" && value.is_number_integer()) {
    int64_t bytes = value.get<int64_t>();
    config.max_split_size = bytes < 0 ? caching::kNoMaxSplitSize : static_cast<uint64_t>(bytes);
  } else if (key == "garbage_collection_threshold" && value.is_number()) {
    config.garbage_collection_threshold = value.get<double>();
  } else if (key == "expandable_segments" && value.is_boolean()) {
    config.expandable_segments = value.get<bool>();
  } else if (key == "roundup_power2_divisions") {
    read_divisions(value, config);
  }
}

nlohmann::json parse_json(const std::string& text) { return nlohmann::json::parse(text, nullptr, false); }

}  // namespace

std::optional<AllocatorConfig> snapshot_allocator_config(const std::vector<TorchSetting>& settings,
                                                         std::string& error) {
  if (settings.empty()) return std::nullopt;
  AllocatorConfig config;
  // The string the run set first; the values the allocator reports win.
  for (const TorchSetting& setting : settings) {
    nlohmann::json value = parse_json(setting.json_value);
    if (setting.key != "PYTORCH_CUDA_ALLOC_CONF" || !value.is_string()) continue;
    caching::ConfigParse parsed = caching::parse_alloc_conf(value.get<std::string>());
    if (!parsed.config) {
      error = "the snapshot's " + parsed.error;
      return std::nullopt;
    }
    config = *parsed.config;
  }
  for (const TorchSetting& setting : settings) read_setting(setting.key, parse_json(setting.json_value), config);
  return config;
}

WhatIfInputResult whatif_input_from_snapshot(const TorchSnapshot& snapshot, std::optional<int> device) {
  WhatIfInputResult result;
  std::optional<int> chosen = device ? device : busiest_device(snapshot);
  if (!chosen || static_cast<size_t>(*chosen) >= snapshot.device_traces.size() ||
      snapshot.device_traces[static_cast<size_t>(*chosen)].empty()) {
    result.error = device ? "the snapshot has no trace entries for device " + std::to_string(*device)
                          : "the snapshot has no allocation history to replay (record it with "
                            "torch.cuda.memory._record_memory_history() before the run)";
    return result;
  }
  WhatIfInput input;
  input.kind = "pytorch-snapshot";
  input.device = *chosen;
  convert_events(snapshot.device_traces[static_cast<size_t>(*chosen)], input);
  if (input.recording.events.empty()) {
    result.error = "the snapshot's trace for device " + std::to_string(*chosen) + " holds no allocations to replay";
    return result;
  }
  input.recording.final_segments = final_segments(snapshot, *chosen);
  std::optional<AllocatorConfig> config = snapshot_allocator_config(snapshot.allocator_settings, result.error);
  if (!result.error.empty()) return result;
  input.recording.config = config.value_or(AllocatorConfig{});
  input.settings_origin = config ? "the snapshot's allocator_settings"
                                 : "not in the snapshot: PyTorch's defaults assumed";
  result.input = std::move(input);
  return result;
}

}  // namespace oomtrace::report
