// What the caching allocator asks of the GPU: whole segments (cudaMalloc,
// cudaFree), and for expandable segments an address range whose pages are
// backed and released one by one (cuMemAddressReserve, cuMemCreate +
// cuMemMap, cuMemUnmap + cuMemRelease). The model decides *when* to ask;
// a Device decides whether memory is left and which address it gets.
#pragma once

#include <cstdint>
#include <optional>

namespace oomtrace::caching {

class Device {
 public:
  virtual ~Device() = default;

  // The GPU's memory: sizes the address range of an expandable segment
  // (1 1/8 of it) and the per-process memory fraction.
  virtual uint64_t total_bytes() const = 0;

  // cudaMalloc: the address, or nullopt when the memory is not there.
  virtual std::optional<uint64_t> allocate_segment(uint64_t size) = 0;
  virtual void free_segment(uint64_t address, uint64_t size) = 0;
  // A segment the process held before the model started.
  virtual void adopt_segment(uint64_t address, uint64_t size) = 0;

  // cuMemAddressReserve: address space only, never out of memory.
  virtual uint64_t reserve_address_range(uint64_t size) = 0;
  virtual void release_address_range(uint64_t address, uint64_t size) = 0;
  // Backs [address, address + size) with memory, all or nothing.
  virtual bool map_pages(uint64_t address, uint64_t size) = 0;
  virtual void unmap_pages(uint64_t address, uint64_t size) = 0;
};

}  // namespace oomtrace::caching
