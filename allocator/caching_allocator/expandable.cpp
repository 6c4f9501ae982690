// expandable_segments:True. Instead of a new segment per miss, each stream
// and pool has one address range whose pages get memory behind them as the
// pool grows: a request that no cached block fits maps pages at the lowest
// address where free and unmapped space together are large enough.
#include <algorithm>

#include "allocator/caching_allocator/caching_allocator.h"
#include "allocator/caching_allocator/expandable_segment.h"
#include "allocator/caching_allocator/size_classes.h"

namespace oomtrace::caching {
namespace {

bool available(const Block* block) { return block && !block->allocated; }

// Whether the free and unmapped blocks from `block` on add up to `size`.
bool has_room(const Block* block, uint64_t size) {
  uint64_t bytes = 0;
  while (bytes < size && available(block)) {
    bytes += block->size;
    block = block->next;
  }
  return bytes >= size;
}

}  // namespace

Block* CachingAllocator::allocate_expandable(const Request& request) {
  Block* candidate = find_expandable_room(request);
  // The candidate starts a run of free and unmapped blocks with room:
  // map the front, then keep mapping what follows until it is big enough.
  if (!candidate->mapped && !map_block(candidate, std::min(candidate->size, request.size))) return nullptr;
  while (candidate->size < request.size) {
    Block* following = candidate->next;
    uint64_t missing = request.size - candidate->size;
    if (!map_block(following, std::min(missing, following->size))) return nullptr;
    candidate = following;  // it absorbed the candidate while mapping
  }
  request.pool->erase(candidate);
  return candidate;
}

// The lowest-addressed unmapped range on the request's stream that, with
// the free block just before it, has room; else a new segment.
Block* CachingAllocator::find_expandable_room(const Request& request) {
  BlockPool& pool = *request.pool;
  for (auto it = pool.unmapped.lower_bound({request.stream, 0, 0, nullptr});
       it != pool.unmapped.end() && it->stream == request.stream; ++it) {
    Block* candidate = it->block;
    if (available(candidate->prev)) candidate = candidate->prev;
    if (has_room(candidate, request.size)) return candidate;
  }
  return create_expandable_segment(request);
}

// Address space for 1 1/8 of the device, so that pages unmapped early in
// the range can be mapped again at its end.
Block* CachingAllocator::create_expandable_segment(const Request& request) {
  auto segment = std::make_unique<ExpandableSegment>();
  segment->page_size = expandable_page_size(request.pool->small);
  uint64_t total = device_.total_bytes();
  uint64_t pages = (total + total / 8 + segment->page_size - 1) / segment->page_size;
  segment->size = pages * segment->page_size;
  segment->base = device_.reserve_address_range(segment->size);
  segment->stream = request.stream;
  segment->small_pool = request.pool->small;
  Block range;
  range.address = segment->base;
  range.size = segment->size;
  range.stream = request.stream;
  range.small_pool = request.pool->small;
  range.expandable = segment.get();
  range.mapped = false;
  Block* block = arena_.make(range);
  request.pool->insert_unmapped(block);
  segments_[segment->base] = {segment->size, request.stream, request.pool->small, true};
  ++stats_.segments;
  expandable_segments_.push_back(std::move(segment));
  return block;
}

// Backs the front `size` bytes of an unmapped block with whole pages; the
// rest stays unmapped. The mapped part joins free neighbours and the pool.
bool CachingAllocator::map_block(Block* unmapped, uint64_t size) {
  const ExpandableSegment& segment = *unmapped->expandable;
  PageRange pages = segment.pages_covering(unmapped->address, size);
  if (!device_.map_pages(pages.address, pages.size)) return false;
  BlockPool& pool = pool_of(unmapped);
  pool.erase_unmapped(unmapped);
  unmapped->mapped = true;
  if (pages.size < unmapped->size) {
    Block rest = *unmapped;
    rest.address = unmapped->address + pages.size;
    rest.size = unmapped->size - pages.size;
    rest.mapped = false;
    Block* remainder = arena_.make(rest);
    splice_between(remainder, unmapped, unmapped->next);
    pool.insert_unmapped(remainder);
    unmapped->size = pages.size;
  }
  merge_into(unmapped, unmapped->prev);
  merge_into(unmapped, unmapped->next);
  pool.insert(unmapped);
  add_reserved(pages.size);
  ++stats_.device_allocations;
  return true;
}

// Gives back the pages wholly inside a free block; the partial pages at
// either end stay mapped as free blocks of their own.
void CachingAllocator::unmap_block(Block* block) {
  const ExpandableSegment& segment = *block->expandable;
  PageRange pages = segment.pages_inside(block->address, block->size);
  if (pages.size == 0) return;
  BlockPool& pool = pool_of(block);
  pool.erase(block);
  uint64_t before = pages.address - block->address;
  uint64_t after = block->size - before - pages.size;
  if (before > 0) {
    Block head = *block;
    head.size = before;
    Block* piece = arena_.make(head);
    splice_between(piece, block->prev, block);
    pool.insert(piece);
  }
  if (after > 0) {
    Block tail = *block;
    tail.address = pages.address + pages.size;
    tail.size = after;
    Block* piece = arena_.make(tail);
    splice_between(piece, block, block->next);
    pool.insert(piece);
  }
  block->address = pages.address;
  block->size = pages.size;
  block->mapped = false;
  merge_into(block, block->prev);
  merge_into(block, block->next);
  pool.insert_unmapped(block);
  device_.unmap_pages(pages.address, pages.size);
  remove_reserved(pages.size);
  ++stats_.device_frees;
}

// A segment with no page mapped any more gives its address range back.
void CachingAllocator::release_expandable_segment(Block* block) {
  ExpandableSegment* segment = block->expandable;
  pool_of(block).erase_unmapped(block);
  device_.release_address_range(segment->base, segment->size);
  segments_.erase(segment->base);
  --stats_.segments;
  arena_.recycle(block);
  std::erase_if(expandable_segments_, [&](const auto& owned) { return owned.get() == segment; });
}

}  // namespace oomtrace::caching
