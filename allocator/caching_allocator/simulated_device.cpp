#include "allocator/caching_allocator/simulated_device.h"

#include <iterator>

#include "allocator/caching_allocator/constants.h"

namespace oomtrace::caching {

SimulatedDevice::SimulatedDevice(uint64_t capacity, AddressHints* hints) : capacity_(capacity), hints_(hints) {}

std::optional<uint64_t> SimulatedDevice::allocate_segment(uint64_t size) {
  if (size > capacity_ - std::min(used_, capacity_)) return std::nullopt;
  used_ += size;
  return place(size, hints_ ? hints_->segment_address(size) : std::nullopt);
}

void SimulatedDevice::free_segment(uint64_t address, uint64_t size) {
  used_ -= std::min(used_, size);
  ranges_.erase(address);
}

void SimulatedDevice::adopt_segment(uint64_t address, uint64_t size) {
  used_ += size;
  ranges_[address] = size;
}

uint64_t SimulatedDevice::reserve_address_range(uint64_t size) {
  return place(size, hints_ ? hints_->range_address(size) : std::nullopt);
}

void SimulatedDevice::release_address_range(uint64_t address, uint64_t) { ranges_.erase(address); }

bool SimulatedDevice::map_pages(uint64_t address, uint64_t size) {
  if (size > capacity_ - std::min(used_, capacity_)) return false;
  used_ += size;
  if (hints_) hints_->pages_mapped(address, size);
  return true;
}

void SimulatedDevice::unmap_pages(uint64_t, uint64_t size) { used_ -= std::min(used_, size); }

// The recorded address when it is free in the model, else a made-up one.
uint64_t SimulatedDevice::place(uint64_t size, std::optional<uint64_t> hint) {
  uint64_t address;
  if (hint && !overlaps(*hint, size)) {
    address = *hint;
  } else {
    if (hint && hints_) hints_->hint_refused();
    address = next_synthetic_;
    next_synthetic_ += (size + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
  }
  ranges_[address] = size;
  return address;
}

bool SimulatedDevice::overlaps(uint64_t address, uint64_t size) const {
  auto after = ranges_.lower_bound(address);
  if (after != ranges_.end() && after->first < address + size) return true;
  if (after == ranges_.begin()) return false;
  auto before = std::prev(after);
  return before->first + before->second > address;
}

}  // namespace oomtrace::caching
