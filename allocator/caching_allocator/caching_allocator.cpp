// Requests, the best-fit search, splitting and freeing.
#include "allocator/caching_allocator/caching_allocator.h"

#include "allocator/caching_allocator/expandable_segment.h"
#include "allocator/caching_allocator/size_classes.h"

namespace oomtrace::caching {

CachingAllocator::CachingAllocator(const AllocatorConfig& config, Device& device) : config_(config), device_(device) {
  if (config_.memory_fraction) {
    allowed_bytes_ = static_cast<uint64_t>(*config_.memory_fraction * static_cast<double>(device_.total_bytes()));
  }
}

CachingAllocator::~CachingAllocator() = default;

std::optional<Allocation> CachingAllocator::allocate(uint64_t size, uint64_t stream) {
  Request request = make_request(size, stream);
  Block* block = find_cached_block(request);
  if (!block) block = obtain_new_block(request);
  if (!block) {
    ++stats_.out_of_memory;
    return std::nullopt;
  }
  return hand_out(block, request);
}

CachingAllocator::Request CachingAllocator::make_request(uint64_t size, uint64_t stream) {
  Request request;
  request.requested = size;
  request.size = round_size(size, config_);
  request.stream = stream;
  request.pool = is_small_request(request.size) ? &small_pool_ : &large_pool_;
  request.segment_size = segment_size_for(request.size);
  return request;
}

// The smallest cached block on the request's stream that fits, unless the
// oversize rules turn it down (then no block is taken: every larger one is
// oversize too).
Block* CachingAllocator::find_cached_block(const Request& request) {
  BlockPool& pool = *request.pool;
  if (config_.garbage_collection_enabled()) ++pool.free_block_searches;
  auto it = pool.free_blocks.lower_bound({request.stream, request.size, 0, nullptr});
  if (it == pool.free_blocks.end() || it->stream != request.stream) return nullptr;
  if (it->block->expandable) it = best_expandable_fit(pool, it, request.stream);
  const uint64_t max_split = config_.max_split_size;
  if (request.size < max_split && it->size >= max_split) return nullptr;
  if (request.size >= max_split && it->size >= request.size + config_.max_non_split_rounding) return nullptr;
  Block* block = it->block;
  pool.free_blocks.erase(it);
  return block;
}

// In an expandable segment a free block followed by unmapped space can grow
// into it, so best fit weighs it at the size it could reach: from the first
// fit, keep moving to the next block while that one could reach less.
BlockPool::FreeBlocks::iterator CachingAllocator::best_expandable_fit(BlockPool& pool,
                                                                      BlockPool::FreeBlocks::iterator it,
                                                                      uint64_t stream) {
  auto reach = [](const Block* block) {
    return block->size + (block->next && !block->next->mapped ? block->next->size : 0);
  };
  auto next = std::next(it);
  while (it->block->expandable && next != pool.free_blocks.end() && next->stream == stream &&
         reach(next->block) < reach(it->block)) {
    it = next++;
  }
  return it;
}

// No cached block fits: ask the device, and when it says no, give cached
// memory back and ask again.
Block* CachingAllocator::obtain_new_block(const Request& request) {
  if (config_.garbage_collection_enabled()) collect_garbage();
  if (Block* block = allocate_segment(request)) return block;
  if (release_oversize_blocks(request)) {
    if (Block* block = allocate_segment(request)) return block;
  }
  release_cached_blocks();
  ++stats_.allocation_retries;
  return allocate_segment(request);
}

Block* CachingAllocator::allocate_segment(const Request& request) {
  if (!within_memory_fraction(request.segment_size)) return nullptr;
  if (config_.expandable_segments) return allocate_expandable(request);
  std::optional<uint64_t> address = device_.allocate_segment(request.segment_size);
  if (!address) return nullptr;
  Block fresh;
  fresh.address = *address;
  fresh.size = request.segment_size;
  fresh.stream = request.stream;
  fresh.small_pool = request.pool->small;
  segments_[*address] = {request.segment_size, request.stream, request.pool->small, false};
  ++stats_.segments;
  ++stats_.device_allocations;
  add_reserved(request.segment_size);
  return arena_.make(fresh);
}

bool CachingAllocator::should_split(const Block* block, uint64_t size) const {
  uint64_t remaining = block->size - size;
  if (block->small_pool || config_.expandable_segments) return remaining >= kMinBlockSize;
  return size < config_.max_split_size && remaining > kSmallSize;
}

// The front of `block` goes out; a remainder worth keeping stays cached.
Allocation CachingAllocator::hand_out(Block* block, const Request& request) {
  if (should_split(block, request.size)) {
    Block front = *block;
    front.size = request.size;
    Block* taken = arena_.make(front);
    splice_between(taken, block->prev, block);
    block->address += request.size;
    block->size -= request.size;
    request.pool->insert(block);
    block = taken;
  }
  block->allocated = true;
  block->free_requested = false;
  block->requested_size = request.requested;
  handed_out_.emplace(block->address, block);
  add_allocated(block->size);
  return {block->address, block->size};
}

bool CachingAllocator::free(uint64_t address) { return request_free(address) && complete_free(address); }

bool CachingAllocator::request_free(uint64_t address) {
  auto it = handed_out_.find(address);
  if (it == handed_out_.end()) return false;
  Block* block = it->second;
  if (!block->free_requested) {
    block->free_requested = true;
    stats_.allocated_bytes -= block->size;
  }
  return true;
}

bool CachingAllocator::complete_free(uint64_t address) {
  auto it = handed_out_.find(address);
  if (it == handed_out_.end()) return false;
  Block* block = it->second;
  handed_out_.erase(it);
  if (!block->free_requested) stats_.allocated_bytes -= block->size;
  return_to_pool(block);
  return true;
}

void CachingAllocator::return_to_pool(Block* block) {
  block->allocated = false;
  block->free_requested = false;
  block->requested_size = 0;
  merge_into(block, block->prev);
  merge_into(block, block->next);
  pool_of(block).insert(block);
}

// `kept` (in no pool) absorbs a free neighbour with the same mapping.
void CachingAllocator::merge_into(Block* kept, Block* neighbour) {
  if (!neighbour || neighbour->allocated || neighbour->mapped != kept->mapped) return;
  BlockPool& pool = pool_of(neighbour);
  if (neighbour->mapped) {
    pool.erase(neighbour);
  } else {
    pool.erase_unmapped(neighbour);
  }
  if (kept->prev == neighbour) {
    kept->address = neighbour->address;
    kept->prev = neighbour->prev;
    if (kept->prev) kept->prev->next = kept;
  } else {
    kept->next = neighbour->next;
    if (kept->next) kept->next->prev = kept;
  }
  kept->size += neighbour->size;
  arena_.recycle(neighbour);
}

void CachingAllocator::add_reserved(uint64_t bytes) {
  stats_.reserved_bytes += bytes;
  if (stats_.reserved_bytes > stats_.peak_reserved_bytes) stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

void CachingAllocator::remove_reserved(uint64_t bytes) { stats_.reserved_bytes -= bytes; }

void CachingAllocator::add_allocated(uint64_t bytes) {
  stats_.allocated_bytes += bytes;
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
}

}  // namespace oomtrace::caching
