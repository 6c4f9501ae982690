// The CUDA entry points that allocate or free memory, as named in events,
// traces and reports, and oomtrace's own pool API. One list so that the
// enum, its names and its kinds cannot drift apart. New entries go at the
// end: traces store the enum's number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace oomtrace {

// What a successful call of the API holds on to.
enum class MemoryKind : uint8_t {
  Device = 1,        // device memory: counts against the GPU's capacity
  Managed = 2,       // unified memory: migrates, not pinned to the GPU
  HostPinned = 3,    // page-locked host memory: tracked apart from the GPU
  PhysicalHandle = 4,  // cuMemCreate: device memory behind a handle (VMM)
  AddressRange = 5,  // cuMemAddressReserve: virtual addresses only
  Mapping = 6,       // cuMemMap: a handle made visible at an address
  SubAllocation = 7, // a block a program's own allocator hands out of memory
                     // the process already holds (include/oomtrace/oomtrace.h)
};

// X(name, kind, is_free)
#define OOMTRACE_API_LIST(X)                                  \
  X(cudaMalloc, Device, false)                                \
  X(cudaMallocPitch, Device, false)                           \
  X(cudaMalloc3D, Device, false)                              \
  X(cudaMallocAsync, Device, false)                           \
  X(cudaMallocAsync_ptsz, Device, false)                      \
  X(cudaMallocFromPoolAsync, Device, false)                   \
  X(cudaMallocFromPoolAsync_ptsz, Device, false)              \
  X(cudaMallocManaged, Managed, false)                        \
  X(cudaMallocHost, HostPinned, false)                        \
  X(cudaHostAlloc, HostPinned, false)                         \
  X(cudaFree, Device, true)                                   \
  X(cudaFreeAsync, Device, true)                              \
  X(cudaFreeAsync_ptsz, Device, true)                         \
  X(cudaFreeHost, HostPinned, true)                           \
  X(cuMemAlloc_v2, Device, false)                             \
  X(cuMemAllocPitch_v2, Device, false)                        \
  X(cuMemAllocManaged, Managed, false)                        \
  X(cuMemAllocAsync, Device, false)                           \
  X(cuMemAllocAsync_ptsz, Device, false)                      \
  X(cuMemAllocFromPoolAsync, Device, false)                   \
  X(cuMemAllocFromPoolAsync_ptsz, Device, false)              \
  X(cuMemAllocHost_v2, HostPinned, false)                     \
  X(cuMemHostAlloc, HostPinned, false)                        \
  X(cuMemFree_v2, Device, true)                               \
  X(cuMemFreeAsync, Device, true)                             \
  X(cuMemFreeAsync_ptsz, Device, true)                        \
  X(cuMemFreeHost, HostPinned, true)                          \
  X(cuMemCreate, PhysicalHandle, false)                       \
  X(cuMemRelease, PhysicalHandle, true)                       \
  X(cuMemAddressReserve, AddressRange, false)                 \
  X(cuMemAddressFree, AddressRange, true)                     \
  X(cuMemMap, Mapping, false)                                 \
  X(cuMemUnmap, Mapping, true)                                \
  X(oomtrace_pool_alloc, SubAllocation, false)                \
  X(oomtrace_pool_free, SubAllocation, true)

enum class Api : uint8_t {
  Unknown = 0,
#define OOMTRACE_API_ENUM(name, kind, is_free) name,
  OOMTRACE_API_LIST(OOMTRACE_API_ENUM)
#undef OOMTRACE_API_ENUM
  Count
};

std::string_view api_name(Api api);
std::optional<Api> api_from_name(std::string_view name);
MemoryKind api_memory_kind(Api api);
bool api_is_free(Api api);
// Stream-ordered allocations (cudaMallocAsync and friends) come from a pool
// that the driver keeps; the report says so.
bool api_is_stream_ordered(Api api);

std::string_view memory_kind_name(MemoryKind kind);

}  // namespace oomtrace
