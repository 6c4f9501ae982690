// The segments a process held at a failure, with the blocks inside them, for
// the HTML report's segment map: the picture that shows fragmentation (free
// space scattered over many blocks, none as large as the request).
//
// From a PyTorch snapshot saved at the failure when there is one (its
// segments and blocks with PyTorch's states), else from the memory model
// replayed up to the failed call: blocks a program's allocator reported
// through the pool API, and segments that only the driver knows about
// (held whole, their inside unknown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocator/process_memory.h"
#include "report/snapshot/torch_snapshot.h"

namespace oomtrace::report {

// Segments drawn per map (the largest ones) and blocks drawn per map, shared
// among its segments (the largest blocks of each, at least
// kMapBlocksPerSegment): enough for the picture, bounded for the file's size.
inline constexpr size_t kMapSegments = 64;
inline constexpr size_t kMapBlocks = 1200;
inline constexpr size_t kMapBlocksPerSegment = 8;

enum class MapBlockState {
  Allocated,    // in use
  PendingFree,  // freed by the program, waiting for a stream (PyTorch)
  Free,         // cached, reusable
  Opaque,       // the driver only says the segment is held; its blocks are unknown
};

struct MapBlock {
  uint64_t offset = 0;  // from the segment's start
  uint64_t size = 0;
  MapBlockState state = MapBlockState::Allocated;
};

struct MapSegment {
  uint64_t address = 0;
  uint64_t size = 0;
  std::vector<MapBlock> blocks;  // in address order; the largest ones (see kMapBlocks)
  size_t blocks_not_drawn = 0;
  uint64_t free_bytes = 0;       // in free blocks, drawn or not
  uint64_t largest_free_bytes = 0;
};

// Free blocks with lower_bytes <= size < 2 * lower_bytes.
struct MapSizeBucket {
  uint64_t lower_bytes = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;
};

struct SegmentMap {
  std::string source;  // "pytorch-snapshot" or "trace-model"
  int device = 0;
  uint64_t requested_bytes = 0;
  std::vector<MapSegment> segments;  // the largest, in address order
  size_t segments_total = 0;
  uint64_t reserved_bytes = 0;       // all segments, drawn or not
  bool blocks_known = false;         // some segment's inside is known
  uint64_t free_bytes = 0;           // in free blocks
  uint64_t largest_free_bytes = 0;
  std::vector<MapSizeBucket> free_histogram;  // smallest first, non-empty only
};

// What the model held on `device` (the live allocations of ProcessMemory
// are its segments).
SegmentMap segment_map_from_model(const ProcessMemory& memory, int device, uint64_t requested_bytes);
SegmentMap segment_map_from_snapshot(const TorchSnapshot& snapshot, int device, uint64_t requested_bytes);

}  // namespace oomtrace::report
