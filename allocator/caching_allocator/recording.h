// A recorded allocation sequence, whatever it was read from (a PyTorch
// snapshot's device trace, an oomtrace trace): the requests and frees the
// program made, the device allocations the allocator made for them, and,
// when known, what the allocator held at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "allocator/caching_allocator/allocator_config.h"

namespace oomtrace::caching {

enum class ReplayAction : uint8_t {
  Alloc,          // a tensor: address, requested size, stream
  FreeRequested,  // the program let go of the block at address
  FreeCompleted,  // the block went back to its pool
  SegmentAlloc,   // cudaMalloc: address, size
  SegmentFree,    // cudaFree
  SegmentMap,     // expandable segment grown: address, size
  SegmentUnmap,   // expandable segment shrunk
  Oom,            // a request that failed: size is the rounded request
};

struct ReplayEvent {
  ReplayAction action = ReplayAction::Alloc;
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  uint64_t source_index = 0;  // where it sits in what it was read from
};

// The allocator's state after the last event (a snapshot's segments).
struct RecordedBlock {
  uint64_t address = 0;
  uint64_t size = 0;
  bool active = false;        // handed out, or freed but not yet reusable
  bool free_requested = false;  // the latter
};

struct RecordedSegment {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  bool small_pool = false;
  bool expandable = false;
  std::vector<RecordedBlock> blocks;  // address order
};

struct Recording {
  std::vector<ReplayEvent> events;
  // Absent when nothing is known of the end state; then the sequence must
  // start with an empty allocator (an oomtrace trace, which starts with the
  // process's first allocation).
  std::optional<std::vector<RecordedSegment>> final_segments;
  AllocatorConfig config;  // the settings the program ran with
};

}  // namespace oomtrace::caching
