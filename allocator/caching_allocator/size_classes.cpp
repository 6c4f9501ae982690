#include "allocator/caching_allocator/size_classes.h"

#include <bit>

namespace oomtrace::caching {
namespace {

uint64_t round_up(uint64_t value, uint64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// The next of `divisions` equal steps between the powers of two around
// `size` (a power of two stays as it is).
uint64_t next_power2_division(uint64_t size, uint32_t divisions) {
  if (std::has_single_bit(size)) return size;
  uint64_t floor = std::bit_floor(size);
  uint64_t step = floor >> (std::bit_width(divisions) - 1);
  if (step == 0) return floor << 1;
  uint64_t below = size & ~(step - 1);
  return below == size ? size : below + step;
}

}  // namespace

uint64_t round_size(uint64_t requested, const AllocatorConfig& config) {
  if (requested < kMinBlockSize) return kMinBlockSize;
  uint32_t divisions = config.divisions_for(requested);
  if (divisions > 1 && requested > kMinBlockSize * divisions) return next_power2_division(requested, divisions);
  return round_up(requested, kMinBlockSize);
}

uint64_t segment_size_for(uint64_t rounded) {
  if (rounded <= kSmallSize) return kSmallBuffer;
  if (rounded < kMinLargeAlloc) return kLargeBuffer;
  return round_up(rounded, kRoundLarge);
}

}  // namespace oomtrace::caching
