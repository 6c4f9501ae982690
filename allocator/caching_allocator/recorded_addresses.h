// Addresses from the recording, for a replay that should reproduce it. The
// device allocations a request made in the recording sit just before it
// (PyTorch logs segment_alloc, then alloc): they form the window the
// model's own device allocations for that request are matched against, in
// order. Same size: the model takes the recorded address and the device
// allocation counts as reproduced. Different size, or one the recording
// did not make: a miss, and the device makes an address up.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "allocator/caching_allocator/simulated_device.h"

namespace oomtrace::caching {

class RecordedAddresses : public AddressHints {
 public:
  // A segment_alloc (or segment_map) of the recording, in order.
  void recorded(uint64_t address, uint64_t size);
  // The request they belonged to is done: any left over were not reproduced.
  void request_done() { window_.clear(); }

  std::optional<uint64_t> segment_address(uint64_t size) override;
  std::optional<uint64_t> range_address(uint64_t size) override;
  void pages_mapped(uint64_t address, uint64_t size) override;
  void hint_refused() override { --reproduced_; }

  uint64_t recorded_count() const { return recorded_; }
  uint64_t reproduced_count() const { return reproduced_; }

 private:
  struct Entry {
    uint64_t address = 0;
    uint64_t size = 0;
  };
  std::optional<Entry> take_front();

  std::deque<Entry> window_;
  uint64_t recorded_ = 0;
  uint64_t reproduced_ = 0;
};

}  // namespace oomtrace::caching
