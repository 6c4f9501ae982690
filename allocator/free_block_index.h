// The free blocks of one device, indexed by size: what a failure needs to
// know about them (the largest, their total, how their sizes spread) without
// walking the blocks. Every update is O(log n) and every answer O(1) or a
// walk over 64 buckets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace oomtrace {

// Free blocks whose size lies in [lower_bytes, 2 * lower_bytes).
struct FreeSizeBucket {
  uint64_t lower_bytes = 0;  // a power of two
  uint64_t count = 0;
  uint64_t bytes = 0;
};

class FreeBlockIndex {
 public:
  void add(uint64_t size);
  // `size` must be the size of a block added before.
  void remove(uint64_t size);

  uint64_t largest() const { return counts_.empty() ? 0 : counts_.rbegin()->first; }
  uint64_t total_bytes() const { return total_bytes_; }
  uint64_t count() const { return count_; }
  // Non-empty buckets, smallest sizes first.
  std::vector<FreeSizeBucket> histogram() const;

 private:
  static constexpr size_t kBuckets = 64;  // one per power of two of a uint64_t

  std::map<uint64_t, uint64_t> counts_;  // size -> free blocks of that size
  std::array<uint64_t, kBuckets> bucket_counts_{};
  std::array<uint64_t, kBuckets> bucket_bytes_{};
  uint64_t total_bytes_ = 0;
  uint64_t count_ = 0;
};

}  // namespace oomtrace
