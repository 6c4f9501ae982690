// First-fit fake address allocation (see address_window.h).
#include "address_window.h"

namespace fake_cuda {
namespace {

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace

std::optional<std::uint64_t> AddressWindow::allocate(std::uint64_t size, std::uint64_t alignment) {
  if (size == 0 || size > limit_ - base_) return std::nullopt;
  std::uint64_t candidate = align_up(base_, alignment);
  for (const auto& [start, length] : blocks_) {
    if (candidate + size <= start) break;
    if (start + length > candidate) candidate = align_up(start + length, alignment);
    if (candidate > limit_) return std::nullopt;
  }
  if (candidate > limit_ || limit_ - candidate < size) return std::nullopt;
  blocks_.emplace(candidate, size);
  return candidate;
}

bool AddressWindow::allocate_at(std::uint64_t address, std::uint64_t size) {
  if (size == 0 || address < base_ || address > limit_ || limit_ - address < size) return false;
  if (!is_free(address, size)) return false;
  blocks_.emplace(address, size);
  return true;
}

bool AddressWindow::release(std::uint64_t address) { return blocks_.erase(address) == 1; }

std::optional<std::uint64_t> AddressWindow::block_size(std::uint64_t address) const {
  const auto found = blocks_.find(address);
  if (found == blocks_.end()) return std::nullopt;
  return found->second;
}

bool AddressWindow::is_free(std::uint64_t address, std::uint64_t size) const {
  // Only the block starting at or before `address` and the first block after
  // it can overlap [address, address + size).
  auto next = blocks_.lower_bound(address);
  if (next != blocks_.end() && next->first < address + size) return false;
  if (next == blocks_.begin()) return true;
  const auto previous = std::prev(next);
  return previous->first + previous->second <= address;
}

}  // namespace fake_cuda
