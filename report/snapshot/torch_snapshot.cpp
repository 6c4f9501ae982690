// Reads PyTorch's snapshot out of a plain-data pickle document. Key names
// and meanings are PyTorch's (torch/cuda/memory.py, _memory_viz.py).
#include "report/snapshot/torch_snapshot.h"

#include <new>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "report/snapshot/torch_snapshot_fields.h"

namespace oomtrace::report {
namespace {

using namespace torch_fields;

// Enough for any honest snapshot (each reference is read about once; small
// shared tuples a few times), small enough to stop a pickle that shares one
// large part thousands of times.
constexpr uint64_t kWorkPerReference = 4;
constexpr uint64_t kBaseWork = 1 << 16;

std::optional<TorchBlockState> block_state(std::string_view name) {
  if (name == "active_allocated") return TorchBlockState::ActiveAllocated;
  if (name == "active_pending_free") return TorchBlockState::ActivePendingFree;
  if (name == "inactive") return TorchBlockState::Inactive;
  return std::nullopt;
}

std::optional<TorchSegmentType> segment_type(std::string_view name) {
  if (name == "small") return TorchSegmentType::Small;
  if (name == "large") return TorchSegmentType::Large;
  return std::nullopt;
}

TorchTraceAction trace_action(std::string_view name) {
  static constexpr TorchTraceAction kAll[] = {
      TorchTraceAction::Alloc,      TorchTraceAction::FreeRequested, TorchTraceAction::FreeCompleted,
      TorchTraceAction::SegmentAlloc, TorchTraceAction::SegmentFree, TorchTraceAction::SegmentMap,
      TorchTraceAction::SegmentUnmap, TorchTraceAction::Oom,         TorchTraceAction::Snapshot};
  for (TorchTraceAction action : kAll) {
    if (name == torch_trace_action_name(action)) return action;
  }
  return TorchTraceAction::Other;
}

// Dict keys in settings are str in practice; anything else still gets a name.
std::string key_name(PickleValue key) {
  if (key.is(PickleKind::String)) return std::string(key.as_text());
  if (key.is(PickleKind::Int)) return std::to_string(key.as_int());
  return pickle_kind_name(key.kind());
}

// A setting's value as JSON. Depth is bounded by the pickle reader and the
// work by the budget, so recursion is safe here.
nlohmann::ordered_json setting_json(PickleValue value, WorkBudget& budget) {
  switch (value.kind()) {
    case PickleKind::None: return nullptr;
    case PickleKind::Bool: return value.as_bool();
    case PickleKind::Int: return value.as_int();
    case PickleKind::Float: return value.as_float();
    case PickleKind::String:
    case PickleKind::Bytes: return std::string(value.as_text());
    case PickleKind::Dict: {
      budget.spend(value.size());
      nlohmann::ordered_json object = nlohmann::ordered_json::object();
      for (size_t i = 0; i < value.size(); ++i) {
        object[key_name(value.key(i))] = setting_json(value.value(i), budget);
      }
      return object;
    }
    default: {  // list, tuple, set
      budget.spend(value.size());
      nlohmann::ordered_json array = nlohmann::ordered_json::array();
      for (size_t i = 0; i < value.size(); ++i) array.push_back(setting_json(value.item(i), budget));
      return array;
    }
  }
}

uint64_t checked_end(uint64_t address, uint64_t size, const Where& where) {
  if (size > UINT64_MAX - address) fail(where, "the block runs past the end of the address space");
  return address + size;
}

class SnapshotReader {
 public:
  explicit SnapshotReader(const PickleDocument& document)
      : budget_(kWorkPerReference * document.reference_count() + kBaseWork) {
    snapshot_.stacks.emplace_back();  // kNoTorchStack
  }

  TorchSnapshot read(PickleValue root) {
    Where where;
    if (root.is(PickleKind::List) || root.is(PickleKind::Tuple)) {
      read_segments(root, where);
      snapshot_.format = TorchSnapshotFormat::SegmentList;
      return std::move(snapshot_);
    }
    bool has_segments = false;
    for_each_field(root, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "segments") {
        read_segments(value, at);
        has_segments = true;
      } else if (key == "device_traces") {
        read_device_traces(value, at);
      } else if (key == "allocator_settings") {
        read_settings(value, at);
      } else if (key == "external_annotations") {
        read_annotations(value, at);
      } else if (key == "oomtrace_oom_stack") {
        read_oom_stack(value, at);
      }
    });
    if (!has_segments) fail(where, "no \"segments\": not a PyTorch memory snapshot");
    snapshot_.format = saw_legacy_block_ ? TorchSnapshotFormat::Legacy : TorchSnapshotFormat::Current;
    return std::move(snapshot_);
  }

 private:
  void read_segments(PickleValue list, const Where& where) {
    expect_sequence(list, where);
    budget_.spend(list.size());
    snapshot_.segments.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) snapshot_.segments.push_back(read_segment(list.item(i), where.at(i)));
  }

  TorchSegment read_segment(PickleValue dict, const Where& where) {
    TorchSegment segment;
    std::optional<PickleValue> blocks;
    bool has_address = false, has_total = false;
    for_each_field(dict, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "device") segment.device = read_small_int(value, at);
      else if (key == "address") { segment.address = read_size(value, at); has_address = true; }
      else if (key == "total_size") { segment.total_size = read_size(value, at); has_total = true; }
      else if (key == "allocated_size") segment.allocated_size = read_size(value, at);
      else if (key == "active_size") segment.active_size = read_size(value, at);
      else if (key == "requested_size") segment.requested_size = read_size(value, at);
      else if (key == "stream") segment.stream = read_int(value, at);
      else if (key == "segment_type") segment.type = read_segment_type(value, at);
      else if (key == "segment_pool_id") segment.pool_id = read_pool_id(value, at);
      else if (key == "is_expandable") segment.is_expandable = read_bool(value, at);
      else if (key == "frames") segment.stack = read_stack(value, at);
      else if (key == "blocks") blocks = value;
    });
    if (!has_address) fail(where, "no \"address\"");
    if (!has_total) fail(where, "no \"total_size\"");
    if (!blocks) fail(where, "no \"blocks\"");
    read_blocks(*blocks, segment, where.at("blocks"));
    return segment;
  }

  TorchSegmentType read_segment_type(PickleValue value, const Where& where) {
    std::optional<TorchSegmentType> type = segment_type(read_text(value, where));
    if (!type) fail(where, quoted(value.as_text()) + " is not small or large");
    return *type;
  }

  std::pair<int64_t, int64_t> read_pool_id(PickleValue value, const Where& where) {
    expect_sequence(value, where);
    if (value.size() != 2) fail(where, "expected a pair");
    return {read_int(value.item(0), where.at(size_t{0})), read_int(value.item(1), where.at(size_t{1}))};
  }

  // Blocks tile their segment in order: a block without an address (the
  // format before 2.1) starts where the previous one ended.
  void read_blocks(PickleValue list, TorchSegment& segment, const Where& where) {
    expect_sequence(list, where);
    budget_.spend(list.size());
    segment.blocks.reserve(list.size());
    uint64_t next_address = segment.address;
    for (size_t i = 0; i < list.size(); ++i) {
      Where at = where.at(i);
      TorchBlock block = read_block(list.item(i), next_address, at);
      next_address = checked_end(block.address, block.size, at);
      segment.blocks.push_back(block);
    }
  }

  TorchBlock read_block(PickleValue dict, uint64_t walked_address, const Where& where) {
    TorchBlock block;
    bool has_address = false, has_size = false, has_state = false, has_requested = false;
    std::optional<PickleValue> history;
    Where history_where = where.at("history");
    for_each_field(dict, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "address") { block.address = read_size(value, at); has_address = true; }
      else if (key == "size") { block.size = read_size(value, at); has_size = true; }
      else if (key == "requested_size") { block.requested_size = read_size(value, at); has_requested = true; }
      else if (key == "state") { block.state = read_block_state(value, at); has_state = true; }
      else if (key == "frames") block.stack = read_stack(value, at);
      else if (key == "history") history = value;
    });
    if (!has_size) fail(where, "no \"size\"");
    if (!has_state) fail(where, "no \"state\"");
    if (!has_address) {
      block.address = walked_address;
      saw_legacy_block_ = true;
    }
    std::optional<uint64_t> history_size;
    if (history) read_history(*history, block, history_size, history_where);
    if (!has_requested) block.requested_size = history_size.value_or(block.size);
    return block;
  }

  TorchBlockState read_block_state(PickleValue value, const Where& where) {
    std::optional<TorchBlockState> state = block_state(read_text(value, where));
    if (!state) fail(where, quoted(value.as_text()) + " is not a block state PyTorch writes");
    return *state;
  }

  // Before 2.1 a block kept the allocations it served; like PyTorch's own
  // _memory_viz, the first one gives its stack and requested size.
  void read_history(PickleValue list, TorchBlock& block, std::optional<uint64_t>& real_size, const Where& where) {
    expect_sequence(list, where);
    if (list.size() == 0) return;
    for_each_field(list.item(0), where.at(size_t{0}), budget_,
                   [&](std::string_view key, PickleValue value, const Where& at) {
                     if (key == "real_size") real_size = read_size(value, at);
                     else if (key == "frames" && block.stack == kNoTorchStack) block.stack = read_stack(value, at);
                   });
  }

  void read_device_traces(PickleValue list, const Where& where) {
    expect_sequence(list, where);
    budget_.spend(list.size());
    snapshot_.device_traces.resize(list.size());
    for (size_t device = 0; device < list.size(); ++device) {
      PickleValue entries = list.item(device);
      Where at = where.at(device);
      expect_sequence(entries, at);
      budget_.spend(entries.size());
      snapshot_.device_traces[device].reserve(entries.size());
      for (size_t i = 0; i < entries.size(); ++i) {
        snapshot_.device_traces[device].push_back(read_entry(entries.item(i), at.at(i)));
      }
    }
  }

  TorchTraceEntry read_entry(PickleValue dict, const Where& where) {
    TorchTraceEntry entry;
    bool has_action = false;
    for_each_field(dict, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "action") {
        std::string name = read_text(value, at);
        entry.action = trace_action(name);
        if (entry.action == TorchTraceAction::Other) entry.other_action = name.substr(0, 64);
        has_action = true;
      } else if (key == "addr") entry.address = read_size(value, at);
      else if (key == "size") entry.size = read_size(value, at);
      else if (key == "stream") entry.stream = read_int(value, at);
      else if (key == "time_us") entry.time_us = read_int(value, at);
      else if (key == "device_free") entry.device_free_bytes = read_size(value, at);
      else if (key == "frames") entry.stack = read_stack(value, at);
    });
    if (!has_action) fail(where, "no \"action\"");
    return entry;
  }

  void read_settings(PickleValue dict, const Where& where) {
    expect(dict, PickleKind::Dict, where);
    budget_.spend(dict.size());
    for (size_t i = 0; i < dict.size(); ++i) {
      std::string name = key_name(dict.key(i));
      std::string value = setting_json(dict.value(i), budget_).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      snapshot_.allocator_settings.push_back({std::move(name), std::move(value)});
    }
  }

  void read_annotations(PickleValue list, const Where& where) {
    expect_sequence(list, where);
    budget_.spend(list.size());
    for (size_t i = 0; i < list.size(); ++i) {
      TorchAnnotation annotation;
      for_each_field(list.item(i), where.at(i), budget_, [&](std::string_view key, PickleValue value, const Where& at) {
        if (key == "stage") annotation.stage = read_text(value, at);
        else if (key == "name") annotation.name = read_text(value, at);
        else if (key == "device") annotation.device = read_small_int(value, at);
        else if (key == "time_us") annotation.time_us = read_int(value, at);
      });
      snapshot_.external_annotations.push_back(std::move(annotation));
    }
  }

  void read_oom_stack(PickleValue dict, const Where& where) {
    TorchOomStack oom;
    for_each_field(dict, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "device") oom.device = read_small_int(value, at);
      else if (key == "requested_bytes") oom.requested_bytes = read_size(value, at);
      else if (key == "frames") oom.stack = read_stack(value, at);
    });
    snapshot_.oom_stack = oom;
  }

  // A frame list shared by many blocks is read once.
  TorchStackId read_stack(PickleValue list, const Where& where) {
    expect_sequence(list, where);
    if (list.size() == 0) return kNoTorchStack;
    auto known = stack_ids_.find(list.id());
    if (known != stack_ids_.end()) return known->second;
    budget_.spend(list.size());
    std::vector<uint32_t> frames;
    frames.reserve(list.size());
    for (size_t i = 0; i < list.size(); ++i) frames.push_back(read_frame(list.item(i), where.at(i)));
    snapshot_.stacks.push_back(std::move(frames));
    TorchStackId id = static_cast<TorchStackId>(snapshot_.stacks.size() - 1);
    stack_ids_.emplace(list.id(), id);
    return id;
  }

  uint32_t read_frame(PickleValue dict, const Where& where) {
    auto known = frame_ids_.find(dict.id());
    if (known != frame_ids_.end()) return known->second;
    TorchFrame frame;
    for_each_field(dict, where, budget_, [&](std::string_view key, PickleValue value, const Where& at) {
      if (key == "filename") frame.filename = read_text(value, at);
      else if (key == "line") frame.line = read_int(value, at);
      else if (key == "name") frame.name = read_text(value, at);
    });
    snapshot_.frames.push_back(std::move(frame));
    uint32_t id = static_cast<uint32_t>(snapshot_.frames.size() - 1);
    frame_ids_.emplace(dict.id(), id);
    return id;
  }

  TorchSnapshot snapshot_;
  WorkBudget budget_;
  bool saw_legacy_block_ = false;
  std::unordered_map<uint32_t, TorchStackId> stack_ids_;  // by the pickle value's id
  std::unordered_map<uint32_t, uint32_t> frame_ids_;
};

}  // namespace

TorchSnapshotResult read_torch_snapshot(const PickleDocument& document) {
  TorchSnapshotResult result;
  try {
    result.snapshot = SnapshotReader(document).read(document.root());
  } catch (const SnapshotError& error) {
    result.error = "not a PyTorch memory snapshot this oomtrace reads: " + error.message;
  } catch (const std::bad_alloc&) {
    result.error = "PyTorch memory snapshot not read: out of memory";
  }
  return result;
}

TorchSnapshotResult parse_torch_snapshot(const uint8_t* data, size_t size) {
  PickleResult pickle = parse_pickle(data, size);
  if (!pickle.document) return TorchSnapshotResult{std::nullopt, pickle.error};
  return read_torch_snapshot(*pickle.document);
}

const char* torch_snapshot_format_name(TorchSnapshotFormat format) {
  switch (format) {
    case TorchSnapshotFormat::Current: return "current";
    case TorchSnapshotFormat::Legacy: return "legacy";
    case TorchSnapshotFormat::SegmentList: return "segments";
  }
  return "?";
}

const char* torch_block_state_name(TorchBlockState state) {
  switch (state) {
    case TorchBlockState::ActiveAllocated: return "active_allocated";
    case TorchBlockState::ActivePendingFree: return "active_pending_free";
    case TorchBlockState::Inactive: return "inactive";
  }
  return "?";
}

const char* torch_segment_type_name(TorchSegmentType type) {
  return type == TorchSegmentType::Small ? "small" : "large";
}

const char* torch_trace_action_name(TorchTraceAction action) {
  switch (action) {
    case TorchTraceAction::Alloc: return "alloc";
    case TorchTraceAction::FreeRequested: return "free_requested";
    case TorchTraceAction::FreeCompleted: return "free_completed";
    case TorchTraceAction::SegmentAlloc: return "segment_alloc";
    case TorchTraceAction::SegmentFree: return "segment_free";
    case TorchTraceAction::SegmentMap: return "segment_map";
    case TorchTraceAction::SegmentUnmap: return "segment_unmap";
    case TorchTraceAction::Oom: return "oom";
    case TorchTraceAction::Snapshot: return "snapshot";
    case TorchTraceAction::Other: return "other";
  }
  return "?";
}

}  // namespace oomtrace::report
