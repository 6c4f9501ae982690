// The figures torch.cuda.memory_stats() would show, as the model keeps them.
#pragma once

#include <cstdint>

namespace oomtrace::caching {

struct AllocatorStats {
  uint64_t reserved_bytes = 0;   // segments (and mapped pages) held from the device
  uint64_t peak_reserved_bytes = 0;
  uint64_t allocated_bytes = 0;  // blocks handed out, rounded sizes, until their free is requested
  uint64_t peak_allocated_bytes = 0;
  uint64_t segments = 0;            // segments held now (an expandable one counts once)
  uint64_t device_allocations = 0;  // cudaMalloc calls, or page mappings of expandable segments
  uint64_t device_frees = 0;        // cudaFree calls, or unmappings
  uint64_t allocation_retries = 0;  // device allocations tried again after releasing the cache
  uint64_t out_of_memory = 0;       // requests that failed after every fallback
};

}  // namespace oomtrace::caching
