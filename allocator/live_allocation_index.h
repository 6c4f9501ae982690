// The live allocations of one kind, by address, in as little memory as the
// preloaded library can afford: a process may hold hundreds of thousands of
// them, and a node-based map spends 96 bytes on each (tree node, malloc
// header, padding). Here each is a packed 32-byte record in sorted chunks
// of at most kChunkEntries; chunks filled in address order (the usual case:
// allocators hand out rising addresses) are filled completely.
//
// Packing limits, none reachable by a real call: sizes up to 2^48 - 1 bytes
// (larger than any virtual address space; larger sizes from a corrupt
// trace are clamped on the way in), times up to 2^56 ns (833 days).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "allocator/event.h"

namespace oomtrace {

struct LiveAllocation {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t time_ns = 0;
  uint32_t thread = 0;
  uint32_t stack_id = 0;
  int16_t device = kHostDevice;
  Api api = Api::Unknown;
};

inline constexpr uint64_t kMaxLiveAllocationSize = (uint64_t{1} << 48) - 1;

class LiveAllocationIndex {
 public:
  static constexpr size_t kChunkEntries = 64;

  // Adds `allocation`, or replaces the one at its address.
  void insert_or_assign(const LiveAllocation& allocation);
  std::optional<LiveAllocation> find(uint64_t address) const;
  // Removes the allocation at `address` and returns it.
  std::optional<LiveAllocation> take(uint64_t address);
  // The allocation with the highest address <= `address`.
  std::optional<LiveAllocation> last_at_or_below(uint64_t address) const;
  // Removes every allocation whose address is in [begin, end), in address
  // order, calling `removed` with each.
  template <typename Callback>
  void take_range(uint64_t begin, uint64_t end, Callback removed) {
    for (uint64_t address : addresses_in(begin, end)) removed(*take(address));
  }
  template <typename Callback>
  void for_each(Callback visit) const {
    for (const auto& [key, chunk] : chunks_) {
      for (const Packed& packed : chunk) visit(unpack(packed));
    }
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Bytes held by the records and chunk headers, for the benchmarks.
  size_t memory_bytes() const;

 private:
  struct Packed {
    uint64_t address;
    uint64_t size_and_device;  // size in the low 48 bits, device above
    uint64_t time_and_api;     // time in the low 56 bits, api above
    uint32_t thread;
    uint32_t stack_id;
  };
  static_assert(sizeof(Packed) == 32);
  using Chunk = std::vector<Packed>;
  // Keyed by an address at or below all it holds (its lowest when it was
  // made); each chunk's addresses are below the next chunk's key.
  using Chunks = std::map<uint64_t, Chunk>;

  static Packed pack(const LiveAllocation& allocation);
  static LiveAllocation unpack(const Packed& packed);
  Chunks::iterator chunk_for(uint64_t address);
  Chunks::const_iterator chunk_for(uint64_t address) const;
  std::vector<uint64_t> addresses_in(uint64_t begin, uint64_t end) const;

  Chunks chunks_;
  size_t size_ = 0;
};

}  // namespace oomtrace
