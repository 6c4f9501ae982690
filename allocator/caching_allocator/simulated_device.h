// A GPU for the model: a capacity (the memory this process may hold), and
// addresses for what it hands out -- the ones a recording shows when the
// replay asks for them, else made up above anything a real process gets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "allocator/caching_allocator/device.h"

namespace oomtrace::caching {

// Where the recording says the next segment went. Consulted only once the
// device has the memory.
class AddressHints {
 public:
  virtual ~AddressHints() = default;
  // A cudaMalloc of `size` bytes: the address the recording gave it, if the
  // recording's next device allocation has that size.
  virtual std::optional<uint64_t> segment_address(uint64_t size) = 0;
  // cuMemAddressReserve: where the recording's next mapping starts.
  virtual std::optional<uint64_t> range_address(uint64_t size) = 0;
  // Pages mapped, to compare with the recording's next mapping.
  virtual void pages_mapped(uint64_t address, uint64_t size) = 0;
  // The hint overlapped memory the model still holds: not used after all.
  virtual void hint_refused() = 0;
};

class SimulatedDevice : public Device {
 public:
  // Unlimited: capacity is never the reason a request fails.
  static constexpr uint64_t kUnlimited = uint64_t{1} << 50;

  explicit SimulatedDevice(uint64_t capacity = kUnlimited, AddressHints* hints = nullptr);

  uint64_t total_bytes() const override { return capacity_; }
  std::optional<uint64_t> allocate_segment(uint64_t size) override;
  void free_segment(uint64_t address, uint64_t size) override;
  void adopt_segment(uint64_t address, uint64_t size) override;
  uint64_t reserve_address_range(uint64_t size) override;
  void release_address_range(uint64_t address, uint64_t size) override;
  bool map_pages(uint64_t address, uint64_t size) override;
  void unmap_pages(uint64_t address, uint64_t size) override;

  uint64_t used_bytes() const { return used_; }

 private:
  uint64_t place(uint64_t size, std::optional<uint64_t> hint);
  bool overlaps(uint64_t address, uint64_t size) const;

  uint64_t capacity_;
  AddressHints* hints_;
  uint64_t used_ = 0;
  uint64_t next_synthetic_ = uint64_t{1} << 56;  // far above user-space pointers
  std::map<uint64_t, uint64_t> ranges_;          // address -> size, segments and reserved ranges
};

}  // namespace oomtrace::caching
