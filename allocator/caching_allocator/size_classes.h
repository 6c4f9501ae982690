// How a request's size becomes a block size, which pool serves it, and how
// large a segment a new device allocation for it is.
#pragma once

#include <cstdint>

#include "allocator/caching_allocator/allocator_config.h"

namespace oomtrace::caching {

// At least 512 bytes; a multiple of 512, or, where roundup_power2_divisions
// gives the size's interval d > 1 divisions, the next of d equal steps
// between the powers of two around it.
uint64_t round_size(uint64_t requested, const AllocatorConfig& config);

// Rounded sizes up to 1 MiB come from the small pool, the rest from the large.
inline bool is_small_request(uint64_t rounded) { return rounded <= kSmallSize; }

// The cudaMalloc a request that no cached block fits makes: 2 MiB for the
// small pool, 20 MiB below 10 MiB, else the size rounded up to 2 MiB.
uint64_t segment_size_for(uint64_t rounded);

// Pages an expandable segment grows by: 2 MiB small, 20 MiB large.
inline uint64_t expandable_page_size(bool small_pool) { return small_pool ? kSmallBuffer : kLargeBuffer; }

}  // namespace oomtrace::caching
