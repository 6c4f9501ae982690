// The sizes PyTorch's CUDACachingAllocator is built around
// (c10/cuda/CUDACachingAllocator.cpp). Named here once so that every rule
// of the model reads like the policy it copies.
#pragma once

#include <cstdint>
#include <limits>

namespace oomtrace::caching {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;

inline constexpr uint64_t kMinBlockSize = 512;        // every request rounds up to a multiple of this
inline constexpr uint64_t kSmallSize = 1 * kMiB;      // the largest request the small pool serves
inline constexpr uint64_t kSmallBuffer = 2 * kMiB;    // segment size (and expandable page) of the small pool
inline constexpr uint64_t kMinLargeAlloc = 10 * kMiB; // requests below this share 20 MiB segments
inline constexpr uint64_t kRoundLarge = 2 * kMiB;     // larger requests get segments rounded to this
inline constexpr uint64_t kLargeBuffer = 20 * kMiB;   // segment size (and expandable page) of the large pool

// max_split_size when PYTORCH_CUDA_ALLOC_CONF does not set it: no limit.
inline constexpr uint64_t kNoMaxSplitSize = std::numeric_limits<uint64_t>::max();

// roundup_power2_divisions has one value per power-of-two interval of
// request sizes, from [1 MiB, 2 MiB) (and everything smaller) up to
// [32 GiB, ...) and everything larger.
inline constexpr int kRoundupIntervals = 16;

}  // namespace oomtrace::caching
