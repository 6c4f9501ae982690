// What memory the traced process holds, rebuilt from events: per device the
// segments (every live device allocation) with their figures, plus host-pinned
// memory, unified memory and the virtual-memory objects kept apart. Blocks a
// program's own allocator reports inside its segments (the pool API) go to
// a BlockModel, which says how much of the segments was in use.
//
// The same class runs inside the preloaded library (state at the instant of a
// failure) and in the report (replaying a trace), so both see identical
// numbers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "allocator/block_model.h"
#include "allocator/event.h"
#include "allocator/live_allocation_index.h"

namespace oomtrace {

struct DeviceFigures {
  uint64_t reserved_bytes = 0;        // device memory this process holds
  uint64_t peak_reserved_bytes = 0;
  uint32_t segment_count = 0;         // live device allocations and handles
  uint64_t stream_ordered_bytes = 0;  // part of reserved from async pools
  uint64_t physical_handle_bytes = 0; // part of reserved from cuMemCreate
  uint64_t mapped_bytes = 0;          // cuMemMap'd ranges currently visible
  uint64_t managed_bytes = 0;         // unified memory, not in reserved
};

struct Totals {
  uint64_t allocations = 0;        // successful allocation calls
  uint64_t frees = 0;              // successful frees of tracked memory
  uint64_t failed_allocations = 0; // calls that returned out-of-memory
  uint64_t unmatched_frees = 0;    // frees of memory allocated before tracing
  uint64_t pool_allocations = 0;   // blocks reported through the pool API
  uint64_t pool_frees = 0;
  // Pool calls on memory no segment contains, and frees of blocks never
  // reported: recorded, not counted.
  uint64_t unmatched_pool_calls = 0;
};

class ProcessMemory {
 public:
  void apply(const Event& event);

  const DeviceFigures& device(int index) const;
  std::vector<int> devices() const;  // indices seen so far, ascending
  uint64_t host_pinned_bytes() const { return host_pinned_bytes_; }
  uint64_t peak_host_pinned_bytes() const { return peak_host_pinned_bytes_; }
  const Totals& totals() const { return totals_; }

  // Live device-memory allocations of one device (or all, device = nullopt),
  // largest first.
  std::vector<LiveAllocation> live_on_device(int device) const;
  size_t live_count() const;

  // Inside the segments (see block_model.h).
  BlockFigures block_figures(int device) const { return blocks_.figures(device); }
  std::vector<FreeSizeBucket> free_histogram(int device) const {
    return blocks_.free_histogram(device);
  }
  std::vector<SegmentLayout> sub_allocated_segments(int device) const { return blocks_.layouts(device); }
  // The device whose segment (a device allocation, or a mapped range)
  // contains `address`; kHostDevice when none does.
  int device_containing(uint64_t address) const;

 private:
  // Ordered, so that the segment containing a pool block can be found.
  using AllocationMap = LiveAllocationIndex;

  void on_alloc(const Event& event);
  void on_free(const Event& event);
  void on_map(const Event& event);
  void on_unmap(const Event& event);
  void on_pool_alloc(const Event& event);
  void on_pool_free(const Event& event);
  std::optional<SegmentSpan> segment_containing(uint64_t address) const;
  DeviceFigures& figures(int device);
  void add_reserved(const LiveAllocation& allocation);
  void remove_reserved(const LiveAllocation& allocation);

  AllocationMap pointers_;          // device, managed and host-pinned
  AllocationMap physical_handles_;  // cuMemCreate
  AllocationMap address_ranges_;    // cuMemAddressReserve
  AllocationMap mappings_;          // cuMemMap, by address
  std::map<int, DeviceFigures> devices_;
  uint64_t host_pinned_bytes_ = 0;
  uint64_t peak_host_pinned_bytes_ = 0;
  Totals totals_;
  BlockModel blocks_;
};

}  // namespace oomtrace
