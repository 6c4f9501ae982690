#include "allocator/free_block_index.h"

#include <bit>

namespace oomtrace {
namespace {

size_t bucket_of(uint64_t size) { return static_cast<size_t>(std::bit_width(size) - 1); }

}  // namespace

void FreeBlockIndex::add(uint64_t size) {
  if (size == 0) return;  // nothing free: not a block
  ++counts_[size];
  size_t bucket = bucket_of(size);
  ++bucket_counts_[bucket];
  bucket_bytes_[bucket] += size;
  total_bytes_ += size;
  ++count_;
}

void FreeBlockIndex::remove(uint64_t size) {
  auto found = counts_.find(size);
  if (found == counts_.end()) return;
  if (--found->second == 0) counts_.erase(found);
  size_t bucket = bucket_of(size);
  --bucket_counts_[bucket];
  bucket_bytes_[bucket] -= size;
  total_bytes_ -= size;
  --count_;
}

std::vector<FreeSizeBucket> FreeBlockIndex::histogram() const {
  std::vector<FreeSizeBucket> buckets;
  for (size_t i = 0; i < kBuckets; ++i) {
    if (bucket_counts_[i] == 0) continue;
    buckets.push_back({uint64_t{1} << i, bucket_counts_[i], bucket_bytes_[i]});
  }
  return buckets;
}

}  // namespace oomtrace
