// A window of fake virtual addresses handed out first-fit.
//
// The fake driver never backs device addresses with memory; it only needs
// them to be unique, aligned and reproducible. First-fit over the freed gaps
// makes the address of every allocation a pure function of the preceding
// call sequence, so traces recorded in tests are identical on every run.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <optional>

namespace fake_cuda {

class AddressWindow {
 public:
  AddressWindow(std::uint64_t base, std::uint64_t limit) : base_(base), limit_(limit) {}

  // Lowest free address aligned to `alignment` (a power of two) that has room
  // for `size` bytes, or nullopt when the window is exhausted.
  std::optional<std::uint64_t> allocate(std::uint64_t size, std::uint64_t alignment);

  // Claims exactly [address, address + size) if it lies in the window and is
  // entirely free; used for address hints.
  bool allocate_at(std::uint64_t address, std::uint64_t size);

  // Returns a block previously handed out, identified by its start address.
  bool release(std::uint64_t address);

  // Size of the block starting at `address`, or nullopt when none starts there.
  std::optional<std::uint64_t> block_size(std::uint64_t address) const;

  // Forgets every block (used when the whole fake device is reset).
  void clear() { blocks_.clear(); }

 private:
  bool is_free(std::uint64_t address, std::uint64_t size) const;

  std::uint64_t base_;
  std::uint64_t limit_;
  std::map<std::uint64_t, std::uint64_t> blocks_;  // start -> size, in address order
};

}  // namespace fake_cuda
