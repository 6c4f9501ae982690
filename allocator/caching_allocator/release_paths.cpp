// Giving cached memory back to the device: after a failed device
// allocation, on empty_cache(), by garbage collection, or one segment at a
// time as a recording shows.
#include <algorithm>
#include <vector>

#include "allocator/caching_allocator/caching_allocator.h"
#include "allocator/caching_allocator/expandable_segment.h"

namespace oomtrace::caching {
namespace {

// Only a whole, ordinary segment can go back with cudaFree.
bool releasable(const Block* block) { return !block->is_split() && !block->expandable; }

}  // namespace

bool CachingAllocator::within_memory_fraction(uint64_t extra_bytes) const {
  return !allowed_bytes_ || stats_.reserved_bytes + extra_bytes <= *allowed_bytes_;
}

// With max_split_size set: free the smallest oversize cached block that is
// at least as large as the request (or max_split_size), else oversize
// blocks from the largest down until as much is freed. True when enough
// was freed to try the device again.
bool CachingAllocator::release_oversize_blocks(const Request& request) {
  if (!config_.has_max_split_size()) return false;
  BlockPool& pool = *request.pool;
  const uint64_t wanted = std::max(request.size, config_.max_split_size);
  auto it = pool.free_blocks.lower_bound({request.stream, wanted, 0, nullptr});
  if (it != pool.free_blocks.end() && it->stream == request.stream) {
    if (!releasable(it->block)) return false;
    release_block(it->block);
    return true;
  }
  if (it == pool.free_blocks.begin()) return false;
  --it;  // the largest block of the request's stream, if it has any
  uint64_t released = 0;
  while (released < wanted && it->size >= config_.max_split_size && it->stream == request.stream) {
    Block* block = it->block;
    bool at_first = it == pool.free_blocks.begin();
    if (!at_first) --it;
    if (releasable(block)) {
      released += block->size;
      release_block(block);
    }
    if (at_first) break;
  }
  return released >= wanted;
}

// What PyTorch does before its last try, and on empty_cache(). Blocks whose
// free was requested but not completed stay out: a recording shows when
// PyTorch completed them, and a replay completes them there.
void CachingAllocator::release_cached_blocks() {
  release_unsplit_blocks(large_pool_);
  release_unsplit_blocks(small_pool_);
}

void CachingAllocator::empty_cache() { release_cached_blocks(); }

void CachingAllocator::release_unsplit_blocks(BlockPool& pool) {
  std::vector<Block*> to_unmap;  // unmapping changes the pool: gather first
  for (auto it = pool.free_blocks.begin(); it != pool.free_blocks.end();) {
    Block* block = (it++)->block;
    if (block->expandable) {
      to_unmap.push_back(block);
    } else if (!block->is_split()) {
      release_block(block);
    }
  }
  for (Block* block : to_unmap) {
    unmap_block(block);
    if (!block->mapped && !block->is_split()) release_expandable_segment(block);
  }
}

void CachingAllocator::release_block(Block* block) {
  BlockPool& pool = pool_of(block);
  pool.erase(block);
  device_.free_segment(block->address, block->size);
  segments_.erase(block->address);
  remove_reserved(block->size);
  --stats_.segments;
  ++stats_.device_frees;
  arena_.recycle(block);
}

bool CachingAllocator::release_segment(uint64_t address) {
  auto segment = segments_.find(address);
  if (segment == segments_.end() || segment->second.expandable) return false;
  BlockPool& pool = segment->second.small_pool ? small_pool_ : large_pool_;
  auto it = pool.free_blocks.find({segment->second.stream, segment->second.size, address, nullptr});
  if (it == pool.free_blocks.end() || !releasable(it->block)) return false;
  release_block(it->block);
  return true;
}

// garbage_collection_threshold: once reserved memory passes that share of
// the allowed memory, free whole cached large blocks that have gone unused
// for at least the average time (counted in free-block searches), again
// and again, until reserved memory is back under the threshold.
void CachingAllocator::collect_garbage() {
  const auto threshold = static_cast<uint64_t>(config_.garbage_collection_threshold *
                                               static_cast<double>(allowed_bytes_.value_or(0)));
  if (stats_.reserved_bytes <= threshold) return;
  const uint64_t target = stats_.reserved_bytes - threshold;
  BlockPool& pool = large_pool_;
  uint64_t total_age = 0;
  uint64_t candidates = 0;
  for (const PoolKey& key : pool.free_blocks) {
    if (key.block->is_split()) continue;
    total_age += pool.gc_age(key.block);
    ++candidates;
  }
  uint64_t reclaimed = 0;
  bool freed_any = true;
  while (reclaimed < target && freed_any && candidates > 0) {
    const double age_threshold = static_cast<double>(total_age) / static_cast<double>(candidates);
    freed_any = false;
    for (auto it = pool.free_blocks.begin(); it != pool.free_blocks.end();) {
      Block* block = (it++)->block;
      if (!releasable(block) || static_cast<double>(pool.gc_age(block)) < age_threshold) continue;
      freed_any = true;
      reclaimed += block->size;
      total_age -= pool.gc_age(block);
      --candidates;
      release_block(block);
    }
  }
}

}  // namespace oomtrace::caching
