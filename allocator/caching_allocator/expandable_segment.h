// One expandable segment: an address range reserved once, per stream and
// pool, whose pages get memory behind them as the pool grows and give it
// back when they are free and the cache is released.
#pragma once

#include <cstdint>

namespace oomtrace::caching {

struct PageRange {
  uint64_t address = 0;
  uint64_t size = 0;
};

struct ExpandableSegment {
  uint64_t base = 0;
  uint64_t size = 0;       // the whole range: 1 1/8 of the device, in pages
  uint64_t page_size = 0;  // 2 MiB small pool, 20 MiB large pool
  uint64_t stream = 0;
  bool small_pool = false;

  // The pages touching [address, address + bytes): what must be mapped to
  // back it.
  PageRange pages_covering(uint64_t address, uint64_t bytes) const {
    uint64_t first = (address - base) / page_size;
    uint64_t last = (address + bytes - base + page_size - 1) / page_size;
    return {base + first * page_size, (last - first) * page_size};
  }
  // The pages wholly inside [address, address + bytes): what can be unmapped
  // without touching a neighbour. Empty when no page fits.
  PageRange pages_inside(uint64_t address, uint64_t bytes) const {
    uint64_t first = (address - base + page_size - 1) / page_size;
    uint64_t last = (address + bytes - base) / page_size;
    if (first >= last) return {address, 0};
    return {base + first * page_size, (last - first) * page_size};
  }
};

}  // namespace oomtrace::caching
