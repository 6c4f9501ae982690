// Inside the segments: the blocks a program's own allocator hands out of
// memory the process already holds (reported through the public pool API,
// include/oomtrace/oomtrace.h), and the free space between them.
//
// A segment is a live device allocation or physical handle. Until a block is
// reported inside it, a segment is *opaque*: it counts as allocated in full,
// which is all the driver shows. The model keeps only the per-device total
// and count of opaque segments, not their addresses (ProcessMemory already
// has those), so tracing plain cudaMalloc costs nothing here. With its first
// reported block a segment becomes *sub-allocated*: from then on it is tiled
// by blocks sorted by address, allocated or free, adjacent free blocks
// merged, and each device keeps an index of its free blocks by size.
//
// Figures per device, at any instant:
//   reserved    all segments
//   cached free free blocks inside sub-allocated segments
//   allocated   reserved - cached free (opaque segments count whole)
//   largest free block, and fragmentation = 1 - largest / cached free
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "allocator/free_block_index.h"

namespace oomtrace {

// Where a segment lies: a device allocation, or a cuMemMap'd range.
struct SegmentSpan {
  uint64_t address = 0;
  uint64_t size = 0;
  int device = 0;

  bool contains(uint64_t start, uint64_t bytes) const {
    return start >= address && start - address < size && bytes <= size - (start - address);
  }
};

// The blocks tiling one sub-allocated segment, in address order: what a
// picture of the segment needs (the report's segment map).
struct BlockSpan {
  uint64_t address = 0;
  uint64_t size = 0;
  bool allocated = false;
};

struct SegmentLayout {
  SegmentSpan span;
  std::vector<BlockSpan> blocks;
};

struct BlockFigures {
  uint64_t reserved_bytes = 0;
  uint64_t allocated_bytes = 0;
  uint64_t cached_free_bytes = 0;
  uint64_t largest_free_block_bytes = 0;
  double fragmentation = 0;  // 0 when nothing is cached
  uint32_t opaque_segments = 0;
  uint32_t sub_allocated_segments = 0;
  uint64_t live_blocks = 0;  // reported blocks not yet freed
};

class BlockModel {
 public:
  // A segment appears on, or leaves, a device; opaque until blocks are
  // reported inside it.
  void add_segment(int device, uint64_t size);
  void remove_segment(int device, uint64_t size);
  // The addresses of the segment starting at `address` stopped being valid
  // (freed or unmapped): the blocks reported inside it, live or free, go.
  void forget_blocks(uint64_t address);

  // [address, address + size) was handed out of `segment`. False, and
  // nothing changes, when the block is empty or not inside the segment.
  // Blocks it overlaps were freed without a report: the newer report wins.
  bool allocate(const SegmentSpan& segment, uint64_t address, uint64_t size);
  // The block starting at `address` went back to its pool. False when no
  // live block starts there.
  bool release(uint64_t address);

  // The sub-allocated segment containing `address`, if any.
  std::optional<SegmentSpan> sub_allocated_segment_containing(uint64_t address) const;

  BlockFigures figures(int device) const;
  std::vector<FreeSizeBucket> free_histogram(int device) const;
  // The device's sub-allocated segments, in address order.
  std::vector<SegmentLayout> layouts(int device) const;

 private:
  struct Block {
    uint64_t size = 0;
    bool allocated = false;
  };
  using Blocks = std::map<uint64_t, Block>;  // by address; they tile the segment

  struct SubAllocatedSegment {
    uint64_t size = 0;
    int device = 0;
    Blocks blocks;
  };
  using Segments = std::map<uint64_t, SubAllocatedSegment>;  // by address

  struct DeviceBlocks {
    uint64_t reserved_bytes = 0;
    uint32_t segments = 0;
    uint32_t sub_allocated_segments = 0;
    uint64_t live_blocks = 0;
    FreeBlockIndex free;
  };

  Segments::iterator segment_containing(uint64_t address);
  SubAllocatedSegment& start_sub_allocating(const SegmentSpan& span);
  Blocks::iterator block_containing(Blocks& blocks, uint64_t address);
  void free_overlapping(SubAllocatedSegment& segment, uint64_t address, uint64_t size);
  void carve(SubAllocatedSegment& segment, Blocks::iterator hole, uint64_t address, uint64_t size);
  Blocks::iterator free_block(SubAllocatedSegment& segment, Blocks::iterator block);

  Segments segments_;
  std::map<int, DeviceBlocks> devices_;
};

}  // namespace oomtrace
