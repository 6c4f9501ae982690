// PyTorch's memory snapshot as plain C++ data: what
// torch.cuda.memory._snapshot() returns and _dump_snapshot() pickles, read
// through the plain-data pickle reader (no Python, nothing executed).
//
// Formats read:
//   current  (PyTorch 2.1+) {"segments", "device_traces", and optionally
//            "allocator_settings", "external_annotations"}; blocks carry
//            "address" and "frames".
//   legacy   (before 2.1) the same dict, but blocks carry "history" and no
//            "address": addresses are worked out by walking each segment
//            from its address, block after block, as PyTorch lays them out.
//   segments an even older _snapshot(): a bare list of segments.
// Optional keys may be missing; a key of the wrong type is an error naming
// where it is ("segments[3].blocks[2].size: expected int, found str").
//
// Stacks are interned: one snapshot shares a few hundred frames among
// hundreds of thousands of references, so blocks and trace entries hold a
// TorchStackId into TorchSnapshot::stacks instead of copies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/snapshot/pickle_reader.h"

namespace oomtrace::report {

enum class TorchSnapshotFormat : uint8_t { Current, Legacy, SegmentList };

enum class TorchBlockState : uint8_t {
  ActiveAllocated,    // handed out to a tensor
  ActivePendingFree,  // freed by the program, waiting for a stream's work to finish
  Inactive,           // free, cached in the segment
};

enum class TorchSegmentType : uint8_t { Small, Large };  // PyTorch's 2 MiB pool, or the large one

enum class TorchTraceAction : uint8_t {
  Alloc,
  FreeRequested,
  FreeCompleted,
  SegmentAlloc,
  SegmentFree,
  SegmentMap,
  SegmentUnmap,
  Oom,
  Snapshot,
  Other,  // a name this reader does not know; kept in TorchTraceEntry::other_action
};

struct TorchFrame {
  std::string filename;
  int64_t line = 0;
  std::string name;
};

using TorchStackId = uint32_t;  // index into TorchSnapshot::stacks; 0 is the empty stack
inline constexpr TorchStackId kNoTorchStack = 0;

struct TorchBlock {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t requested_size = 0;  // what the program asked for; size is rounded up
  TorchBlockState state = TorchBlockState::Inactive;
  TorchStackId stack = kNoTorchStack;  // where it was (last) allocated, innermost first
};

struct TorchSegment {
  int device = 0;
  uint64_t address = 0;
  uint64_t total_size = 0;
  // PyTorch's own sums over the segment's blocks, as written in the snapshot.
  uint64_t allocated_size = 0;
  uint64_t active_size = 0;
  uint64_t requested_size = 0;
  int64_t stream = 0;
  TorchSegmentType type = TorchSegmentType::Large;
  std::optional<std::pair<int64_t, int64_t>> pool_id;  // CUDA graph pool; (0, 0) outside graphs
  bool is_expandable = false;
  TorchStackId stack = kNoTorchStack;  // where the segment was reserved
  std::vector<TorchBlock> blocks;      // in address order
};

struct TorchTraceEntry {
  TorchTraceAction action = TorchTraceAction::Other;
  std::string other_action;  // only for TorchTraceAction::Other
  uint64_t address = 0;
  uint64_t size = 0;
  int64_t stream = 0;
  std::optional<int64_t> time_us;            // since the epoch; absent before PyTorch 2.1
  std::optional<uint64_t> device_free_bytes;  // "oom" entries: what CUDA said was free
  TorchStackId stack = kNoTorchStack;
};

struct TorchAnnotation {
  std::string stage;  // "START", "END"
  std::string name;
  int device = 0;
  std::optional<int64_t> time_us;
};

// One allocator setting as PyTorch recorded it, its value written as JSON
// text ("false", "-1", "0.0", "\"\"", "{\"1\": 0}") so both renderers can
// show it faithfully.
struct TorchSetting {
  std::string key;
  std::string json_value;
};

// Written by oomtrace's Python bridge beside PyTorch's own keys
// ("oomtrace_oom_stack"): the Python stack of the allocation that ran out of
// memory, as the OOM observer saw it on the failing thread. It needs no
// allocation history, so it is there when the history (and its "oom"
// entry's frames) is off.
struct TorchOomStack {
  int device = 0;
  uint64_t requested_bytes = 0;
  TorchStackId stack = kNoTorchStack;  // innermost first
};

struct TorchSnapshot {
  TorchSnapshotFormat format = TorchSnapshotFormat::Current;
  std::optional<TorchOomStack> oom_stack;
  std::vector<TorchSegment> segments;
  std::vector<std::vector<TorchTraceEntry>> device_traces;  // index: device
  std::vector<TorchSetting> allocator_settings;             // empty when not recorded
  std::vector<TorchAnnotation> external_annotations;
  std::vector<TorchFrame> frames;                           // distinct frames
  std::vector<std::vector<uint32_t>> stacks;                // indices into frames; stacks[0] is empty

  const std::vector<uint32_t>& stack(TorchStackId id) const { return stacks.at(id); }
};

struct TorchSnapshotResult {
  std::optional<TorchSnapshot> snapshot;
  std::string error;  // one line when snapshot is empty
};

// From a pickle already read. Bounded: when shared parts of the pickle
// would have to be read over and over (more work than the document holds
// references), it stops with an error instead.
TorchSnapshotResult read_torch_snapshot(const PickleDocument& document);
// From the pickle's bytes.
TorchSnapshotResult parse_torch_snapshot(const uint8_t* data, size_t size);

const char* torch_snapshot_format_name(TorchSnapshotFormat format);  // "current", "legacy", "segments"
const char* torch_block_state_name(TorchBlockState state);           // PyTorch's spelling
const char* torch_segment_type_name(TorchSegmentType type);          // "small", "large"
const char* torch_trace_action_name(TorchTraceAction action);        // "alloc", ...; "other"

}  // namespace oomtrace::report
