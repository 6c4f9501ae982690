// Seeding the model with memory held before it started, and reading back
// what it holds.
#include <algorithm>

#include "allocator/caching_allocator/caching_allocator.h"

namespace oomtrace::caching {
namespace {

bool blocks_fit(const ExistingSegment& segment, const std::vector<ExistingBlock>& sorted) {
  uint64_t cursor = segment.address;
  for (const ExistingBlock& block : sorted) {
    if (block.size == 0 || block.address < cursor) return false;
    if (block.address - segment.address > segment.size || block.size > segment.size - (block.address - segment.address)) {
      return false;
    }
    cursor = block.address + block.size;
  }
  return true;
}

}  // namespace

// The segment becomes a list of its handed-out blocks with free blocks in
// the gaps (free space is always merged, so one free block per gap).
bool CachingAllocator::adopt_segment(const ExistingSegment& segment) {
  std::vector<ExistingBlock> sorted = segment.blocks;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.address < b.address; });
  if (segment.size == 0 || segments_.count(segment.address) || !blocks_fit(segment, sorted)) return false;
  BlockPool& pool = segment.small_pool ? small_pool_ : large_pool_;
  Block* previous = nullptr;
  auto append = [&](uint64_t address, uint64_t size, bool handed_out) {
    Block value;
    value.address = address;
    value.size = size;
    value.stream = segment.stream;
    value.small_pool = segment.small_pool;
    value.allocated = handed_out;
    Block* block = arena_.make(value);
    splice_between(block, previous, nullptr);
    previous = block;
    return block;
  };
  uint64_t cursor = segment.address;
  for (const ExistingBlock& existing : sorted) {
    if (existing.address > cursor) pool.insert(append(cursor, existing.address - cursor, false));
    Block* block = append(existing.address, existing.size, true);
    block->requested_size = existing.size;
    block->free_requested = existing.free_requested;
    handed_out_.emplace(block->address, block);
    if (!existing.free_requested) add_allocated(block->size);
    cursor = existing.address + existing.size;
  }
  if (cursor < segment.address + segment.size) pool.insert(append(cursor, segment.address + segment.size - cursor, false));
  device_.adopt_segment(segment.address, segment.size);
  segments_[segment.address] = {segment.size, segment.stream, segment.small_pool, false};
  ++stats_.segments;
  add_reserved(segment.size);
  return true;
}

uint64_t CachingAllocator::largest_free_block() const {
  uint64_t largest = 0;
  // Each stream's blocks sit together, largest last: visit the last block
  // of every stream, from the highest stream down.
  for (const BlockPool* pool : {&small_pool_, &large_pool_}) {
    auto end = pool->free_blocks.end();
    while (end != pool->free_blocks.begin()) {
      auto last = std::prev(end);
      largest = std::max(largest, last->size);
      end = pool->free_blocks.lower_bound({last->stream, 0, 0, nullptr});
    }
  }
  return largest;
}

std::vector<SegmentView> CachingAllocator::segments() const {
  std::map<uint64_t, const Block*> by_address;
  for (const auto& [address, block] : handed_out_) by_address[address] = block;
  for (const BlockPool* pool : {&small_pool_, &large_pool_}) {
    for (const PoolKey& key : pool->free_blocks) by_address[key.address] = key.block;
    for (const PoolKey& key : pool->unmapped) by_address[key.address] = key.block;
  }
  std::vector<SegmentView> views;
  for (const auto& [address, record] : segments_) {
    SegmentView view{address, record.size, record.stream, record.small_pool, record.expandable, {}};
    auto head = by_address.find(address);
    for (const Block* block = head == by_address.end() ? nullptr : head->second; block; block = block->next) {
      view.blocks.push_back({block->address, block->size, block->allocated, block->mapped});
    }
    views.push_back(std::move(view));
  }
  return views;
}

}  // namespace oomtrace::caching
