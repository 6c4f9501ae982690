// A block: a range of a segment that is handed out, free and cached, or
// (in an expandable segment) not backed by memory yet. The blocks of a
// segment form a list in address order, so that a freed block can merge
// with free neighbours.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace oomtrace::caching {

struct ExpandableSegment;

struct Block {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  uint64_t requested_size = 0;  // what the program asked for, while handed out
  Block* prev = nullptr;        // neighbours inside the segment
  Block* next = nullptr;
  ExpandableSegment* expandable = nullptr;  // the segment, when it is expandable
  uint64_t gc_count_base = 0;   // the pool's search count when the block was cached
  bool small_pool = false;
  // Handed out: from the allocation until the block is back in its pool
  // (a block whose free was requested but not completed is still out).
  bool allocated = false;
  bool free_requested = false;  // the program let go; the allocated-bytes figure no longer counts it
  bool mapped = true;           // false: expandable address space with no memory behind it

  bool is_split() const { return prev != nullptr || next != nullptr; }
};

// Makes `block` the list neighbour between `before` and `after`.
inline void splice_between(Block* block, Block* before, Block* after) {
  block->prev = before;
  block->next = after;
  if (before) before->next = block;
  if (after) after->prev = block;
}

// Owns every Block and recycles them: a replay creates and merges millions.
class BlockArena {
 public:
  Block* make(const Block& value) {
    Block* block;
    if (recycled_.empty()) {
      block = &storage_.emplace_back();
    } else {
      block = recycled_.back();
      recycled_.pop_back();
    }
    *block = value;
    return block;
  }
  void recycle(Block* block) { recycled_.push_back(block); }

 private:
  std::deque<Block> storage_;  // stable addresses
  std::vector<Block*> recycled_;
};

}  // namespace oomtrace::caching
