// A model of PyTorch's CUDACachingAllocator (one device): the policy that
// decides which cached block serves a request, when a block is split, when
// the device is asked for more and what is given back when it says no.
// Written from the allocator's documented and observable behaviour:
//
//   rounding   requests round up to 512 bytes, or to power-of-two divisions
//              (roundup_power2_divisions);
//   pools      rounded sizes up to 1 MiB come from the small pool, the rest
//              from the large one; each pool is ordered by (stream, size,
//              address) and a request takes the first fit on its stream;
//   segments   a miss allocates 2 MiB (small), 20 MiB (below 10 MiB) or the
//              size rounded up to 2 MiB;
//   splitting  the rest of a block becomes a free block when it is at least
//              512 bytes (small pool, expandable segments) or more than
//              1 MiB (large pool), never for requests of max_split_size or
//              more; blocks of max_split_size or more serve only requests
//              within max_non_split_rounding (20 MiB) of their size;
//   freeing    a freed block merges with free neighbours;
//   failure    when the device says no: release one oversize cached block
//              (with max_split_size), then every unsplit cached block, and
//              try again; garbage_collection_threshold first releases the
//              blocks unused longest once reserved memory passes the
//              threshold of the per-process memory fraction;
//   expandable one address range per stream and pool, grown by 2 MiB /
//              20 MiB pages and shrunk by unmapping free pages.
//
// Not modelled: CUDA graph private pools, IPC, the cudaMallocAsync backend.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "allocator/caching_allocator/allocator_config.h"
#include "allocator/caching_allocator/allocator_stats.h"
#include "allocator/caching_allocator/block.h"
#include "allocator/caching_allocator/block_pool.h"
#include "allocator/caching_allocator/device.h"

namespace oomtrace::caching {

struct Allocation {
  uint64_t address = 0;
  uint64_t block_size = 0;  // the rounded block handed out, maybe larger than asked
};

// A segment the process held before the model started, and the blocks in
// it that were handed out (the rest is free).
struct ExistingBlock {
  uint64_t address = 0;
  uint64_t size = 0;
  bool free_requested = false;  // freed by the program, not yet reusable
};

struct ExistingSegment {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  bool small_pool = false;
  std::vector<ExistingBlock> blocks;
};

// What the model holds, for tests and comparisons with a snapshot.
struct BlockView {
  uint64_t address = 0;
  uint64_t size = 0;
  bool allocated = false;
  bool mapped = true;
};

struct SegmentView {
  uint64_t address = 0;
  uint64_t size = 0;  // for an expandable segment, its whole address range
  uint64_t stream = 0;
  bool small_pool = false;
  bool expandable = false;
  std::vector<BlockView> blocks;  // address order, tiling the segment
};

class CachingAllocator {
 public:
  CachingAllocator(const AllocatorConfig& config, Device& device);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // torch.empty(): nullopt when every fallback failed (an OutOfMemoryError).
  std::optional<Allocation> allocate(uint64_t size, uint64_t stream = 0);
  // The tensor is gone: free requested and completed at once. False when
  // nothing is handed out at that address.
  bool free(uint64_t address);
  // The two halves, as a snapshot's trace records them: the program lets go
  // (allocated bytes drop) and, once the streams that used the block are
  // done with it, the block returns to its pool.
  bool request_free(uint64_t address);
  bool complete_free(uint64_t address);

  // torch.cuda.empty_cache(): every cached segment that is wholly free goes
  // back to the device (expandable segments give back their free pages).
  void empty_cache();
  // Gives back the one segment at `address`, if it is wholly free and cached.
  bool release_segment(uint64_t address);
  // Memory held before the model started. False, and nothing changes, when
  // the blocks do not fit inside the segment without overlapping.
  bool adopt_segment(const ExistingSegment& segment);

  const AllocatorStats& stats() const { return stats_; }
  const AllocatorConfig& config() const { return config_; }
  // The largest cached free block: the largest request served without
  // asking the device.
  uint64_t largest_free_block() const;
  std::vector<SegmentView> segments() const;

 private:
  struct Request {
    uint64_t requested = 0;
    uint64_t size = 0;  // rounded
    uint64_t stream = 0;
    BlockPool* pool = nullptr;
    uint64_t segment_size = 0;
  };
  struct SegmentRecord {
    uint64_t size = 0;
    uint64_t stream = 0;
    bool small_pool = false;
    bool expandable = false;
  };

  Request make_request(uint64_t size, uint64_t stream);
  BlockPool& pool_of(const Block* block) { return block->small_pool ? small_pool_ : large_pool_; }
  Block* find_cached_block(const Request& request);
  BlockPool::FreeBlocks::iterator best_expandable_fit(BlockPool& pool, BlockPool::FreeBlocks::iterator it,
                                                      uint64_t stream);
  Block* obtain_new_block(const Request& request);
  Block* allocate_segment(const Request& request);
  Allocation hand_out(Block* block, const Request& request);
  bool should_split(const Block* block, uint64_t size) const;
  void return_to_pool(Block* block);
  void merge_into(Block* kept, Block* neighbour);

  // release_paths.cpp
  bool release_oversize_blocks(const Request& request);
  void release_cached_blocks();
  void release_unsplit_blocks(BlockPool& pool);
  void release_block(Block* block);
  void collect_garbage();
  bool within_memory_fraction(uint64_t extra_bytes) const;

  // expandable.cpp
  Block* allocate_expandable(const Request& request);
  Block* find_expandable_room(const Request& request);
  Block* create_expandable_segment(const Request& request);
  bool map_block(Block* unmapped, uint64_t size);
  void unmap_block(Block* block);
  void release_expandable_segment(Block* block);

  void add_reserved(uint64_t bytes);
  void remove_reserved(uint64_t bytes);
  void add_allocated(uint64_t bytes);

  AllocatorConfig config_;
  Device& device_;
  std::optional<uint64_t> allowed_bytes_;  // the per-process memory fraction, in bytes
  BlockArena arena_;
  BlockPool small_pool_{true};
  BlockPool large_pool_{false};
  std::unordered_map<uint64_t, Block*> handed_out_;  // by address
  std::map<uint64_t, SegmentRecord> segments_;       // by address
  std::vector<std::unique_ptr<ExpandableSegment>> expandable_segments_;
  AllocatorStats stats_;
};

}  // namespace oomtrace::caching
