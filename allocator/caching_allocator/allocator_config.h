// The settings the caching allocator runs with, read from a
// PYTORCH_CUDA_ALLOC_CONF string exactly as PyTorch reads it
// ("expandable_segments:True,max_split_size_mb:128,
//  garbage_collection_threshold:0.8,roundup_power2_divisions:[256:1,512:2,>:8]").
// A string PyTorch would refuse is refused here too, with the reason.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "allocator/caching_allocator/constants.h"

namespace oomtrace::caching {

struct AllocatorConfig {
  uint64_t max_split_size = kNoMaxSplitSize;       // bytes; blocks this large are never split
  uint64_t max_non_split_rounding = kLargeBuffer;  // how much larger than an oversize request its block may be
  double garbage_collection_threshold = 0;         // 0: off; needs memory_fraction to act
  bool expandable_segments = false;
  // Divisions per power-of-two interval of request sizes; 0 or 1: plain
  // 512-byte rounding.
  std::array<uint32_t, kRoundupIntervals> roundup_power2_divisions{};
  // torch.cuda.set_per_process_memory_fraction(): not part of the string,
  // but the allocator's limit and the only thing that arms the garbage
  // collection threshold.
  std::optional<double> memory_fraction;

  bool has_max_split_size() const { return max_split_size != kNoMaxSplitSize; }
  bool garbage_collection_enabled() const { return memory_fraction && garbage_collection_threshold > 0; }
  uint32_t divisions_for(uint64_t size) const;

  bool operator==(const AllocatorConfig&) const = default;
};

struct ConfigParse {
  std::optional<AllocatorConfig> config;
  std::string error;  // one line when config is empty
};

// Keys PyTorch does not know but oomtrace reads: only
// "per_process_memory_fraction:F", the limit a program sets from Python.
enum class ExtraKeys : uint8_t { Refuse, Accept };

// The settings a string gives, starting from `base` (PyTorch starts from
// its defaults; a what-if starts from what the run used).
ConfigParse parse_alloc_conf(std::string_view text, const AllocatorConfig& base = {},
                             ExtraKeys extra_keys = ExtraKeys::Refuse);

// The shortest PYTORCH_CUDA_ALLOC_CONF that gives `config` (memory_fraction
// appended as "per_process_memory_fraction:F", which only oomtrace reads);
// "defaults" when nothing differs from PyTorch's defaults.
std::string describe(const AllocatorConfig& config);

}  // namespace oomtrace::caching
