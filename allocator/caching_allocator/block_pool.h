// The cached free blocks of one pool (small or large), ordered by
// (stream, size, address) like PyTorch's BlockComparatorSize: the first
// block not smaller than a request on its stream is the best fit. Unmapped
// ranges of expandable segments are kept apart, by (stream, address).
//
// The keys copy the block's fields, so the ordered set never chases
// pointers; a block must leave the pool before its size or address changes.
#pragma once

#include <cstdint>
#include <set>
#include <tuple>

#include "allocator/caching_allocator/block.h"

namespace oomtrace::caching {

struct PoolKey {
  uint64_t stream = 0;
  uint64_t size = 0;
  uint64_t address = 0;
  Block* block = nullptr;
};

struct BySize {
  bool operator()(const PoolKey& a, const PoolKey& b) const {
    return std::tie(a.stream, a.size, a.address) < std::tie(b.stream, b.size, b.address);
  }
};

struct ByAddress {
  bool operator()(const PoolKey& a, const PoolKey& b) const {
    return std::tie(a.stream, a.address) < std::tie(b.stream, b.address);
  }
};

inline PoolKey key_of(const Block* block) {
  return {block->stream, block->size, block->address, const_cast<Block*>(block)};
}

class BlockPool {
 public:
  using FreeBlocks = std::set<PoolKey, BySize>;
  using UnmappedBlocks = std::set<PoolKey, ByAddress>;

  explicit BlockPool(bool small) : small(small) {}

  // Cached: remembers the search count, from which garbage collection
  // tells how long the block has gone unused.
  void insert(Block* block) {
    block->gc_count_base = free_block_searches;
    free_blocks.insert(key_of(block));
  }
  void erase(const Block* block) { free_blocks.erase(key_of(block)); }
  void insert_unmapped(Block* block) { unmapped.insert(key_of(block)); }
  void erase_unmapped(const Block* block) { unmapped.erase(key_of(block)); }
  uint64_t gc_age(const Block* block) const { return free_block_searches - block->gc_count_base; }

  const bool small;
  FreeBlocks free_blocks;
  UnmappedBlocks unmapped;
  uint64_t free_block_searches = 0;  // counted only while garbage collection is on
};

}  // namespace oomtrace::caching
