// What the allocator held when a recording begins. A snapshot's trace often
// starts mid-run (history turned on late, or a ring buffer that dropped its
// oldest entries): segments it never saw allocated, blocks it sees freed
// before any allocation. Worked out from the trace and the final state:
//
//   segments  every final segment the trace did not allocate, and every
//             segment it frees before allocating one there;
//   blocks    every block freed before the trace allocates there, and every
//             final active block the trace never allocated;
//   sizes     exact for blocks still in the final state; for the others the
//             request rounded as the run's settings round it, grown to the
//             next block when the gap left is too small to be a free block
//             of the large pool (1 MiB or less: such a block was not split);
//   the rest  free, one block per gap, as the allocator merges free space.
#pragma once

#include <cstdint>
#include <vector>

#include "allocator/caching_allocator/caching_allocator.h"
#include "allocator/caching_allocator/recording.h"

namespace oomtrace::caching {

struct InitialState {
  std::vector<ExistingSegment> segments;  // address order
  uint64_t reserved_bytes = 0;
  uint64_t blocks_outside_segments = 0;   // freed blocks no known segment contains: ignored
};

InitialState reconstruct_initial_state(const Recording& recording);

}  // namespace oomtrace::caching
