#include "allocator/caching_allocator/recorded_addresses.h"

namespace oomtrace::caching {

void RecordedAddresses::recorded(uint64_t address, uint64_t size) {
  window_.push_back({address, size});
  ++recorded_;
}

std::optional<RecordedAddresses::Entry> RecordedAddresses::take_front() {
  if (window_.empty()) return std::nullopt;
  Entry front = window_.front();
  window_.pop_front();
  return front;
}

std::optional<uint64_t> RecordedAddresses::segment_address(uint64_t size) {
  std::optional<Entry> next = take_front();
  if (!next || next->size != size) return std::nullopt;
  ++reproduced_;
  return next->address;
}

// A new expandable segment's first mapping starts at its base.
std::optional<uint64_t> RecordedAddresses::range_address(uint64_t) {
  if (window_.empty()) return std::nullopt;
  return window_.front().address;
}

void RecordedAddresses::pages_mapped(uint64_t address, uint64_t size) {
  std::optional<Entry> next = take_front();
  if (next && next->size == size && next->address == address) ++reproduced_;
}

}  // namespace oomtrace::caching
