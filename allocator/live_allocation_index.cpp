#include "allocator/live_allocation_index.h"

#include <algorithm>
#include <iterator>

namespace oomtrace {
namespace {

constexpr uint64_t kSizeBits = 48;
constexpr uint64_t kTimeBits = 56;
constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;

template <typename Chunk>
auto first_at_or_above(Chunk& chunk, uint64_t address) {
  return std::lower_bound(chunk.begin(), chunk.end(), address,
                          [](const auto& packed, uint64_t wanted) { return packed.address < wanted; });
}

}  // namespace

LiveAllocationIndex::Packed LiveAllocationIndex::pack(const LiveAllocation& allocation) {
  uint64_t size = std::min(allocation.size, kMaxLiveAllocationSize);
  uint64_t device = static_cast<uint16_t>(allocation.device);
  uint64_t time = std::min(allocation.time_ns, kTimeMask);
  uint64_t api = static_cast<uint8_t>(allocation.api);
  return {allocation.address, size | (device << kSizeBits), time | (api << kTimeBits), allocation.thread,
          allocation.stack_id};
}

LiveAllocation LiveAllocationIndex::unpack(const Packed& packed) {
  LiveAllocation allocation;
  allocation.address = packed.address;
  allocation.size = packed.size_and_device & kMaxLiveAllocationSize;
  allocation.device = static_cast<int16_t>(static_cast<uint16_t>(packed.size_and_device >> kSizeBits));
  allocation.time_ns = packed.time_and_api & kTimeMask;
  allocation.api = static_cast<Api>(static_cast<uint8_t>(packed.time_and_api >> kTimeBits));
  allocation.thread = packed.thread;
  allocation.stack_id = packed.stack_id;
  return allocation;
}

LiveAllocationIndex::Chunks::iterator LiveAllocationIndex::chunk_for(uint64_t address) {
  auto after = chunks_.upper_bound(address);
  return after == chunks_.begin() ? after : std::prev(after);
}

LiveAllocationIndex::Chunks::const_iterator LiveAllocationIndex::chunk_for(uint64_t address) const {
  auto after = chunks_.upper_bound(address);
  return after == chunks_.begin() ? after : std::prev(after);
}

void LiveAllocationIndex::insert_or_assign(const LiveAllocation& allocation) {
  Packed packed = pack(allocation);
  if (chunks_.empty()) {
    chunks_[allocation.address].push_back(packed);
    ++size_;
    return;
  }
  auto chunk = chunk_for(allocation.address);
  if (allocation.address < chunk->first) {
    // Below every chunk: the first one takes it and its key follows, so
    // that every chunk holds only addresses >= its key.
    auto node = chunks_.extract(chunk);
    node.key() = allocation.address;
    chunk = chunks_.insert(std::move(node)).position;
  }
  auto position = first_at_or_above(chunk->second, allocation.address);
  if (position != chunk->second.end() && position->address == allocation.address) {
    *position = packed;
    return;
  }
  ++size_;
  bool appending = position == chunk->second.end() && std::next(chunk) == chunks_.end();
  if (appending && chunk->second.size() >= kChunkEntries) {
    // Rising addresses: start a new chunk and leave this one full.
    Chunk fresh;
    fresh.reserve(kChunkEntries);
    fresh.push_back(packed);
    chunks_.emplace_hint(chunks_.end(), allocation.address, std::move(fresh));
    return;
  }
  chunk->second.insert(position, packed);
  if (chunk->second.size() <= kChunkEntries) return;
  // Full in the middle: the upper half becomes a chunk of its own.
  auto middle = chunk->second.begin() + static_cast<std::ptrdiff_t>(chunk->second.size() / 2);
  Chunk upper;
  upper.reserve(kChunkEntries);
  upper.assign(middle, chunk->second.end());
  chunk->second.erase(middle, chunk->second.end());
  uint64_t key = upper.front().address;
  chunks_.emplace_hint(std::next(chunk), key, std::move(upper));
}

std::optional<LiveAllocation> LiveAllocationIndex::find(uint64_t address) const {
  if (chunks_.empty()) return std::nullopt;
  const Chunk& chunk = chunk_for(address)->second;
  auto position = first_at_or_above(chunk, address);
  if (position == chunk.end() || position->address != address) return std::nullopt;
  return unpack(*position);
}

std::optional<LiveAllocation> LiveAllocationIndex::take(uint64_t address) {
  if (chunks_.empty()) return std::nullopt;
  auto chunk = chunk_for(address);
  auto position = first_at_or_above(chunk->second, address);
  if (position == chunk->second.end() || position->address != address) return std::nullopt;
  LiveAllocation taken = unpack(*position);
  chunk->second.erase(position);
  --size_;
  if (chunk->second.empty()) {
    // The last chunk stays, empty, for the next allocation: a program
    // that allocates and frees one block at a time would otherwise pay
    // two mallocs and two frees for each.
    if (chunks_.size() > 1) chunks_.erase(chunk);
  } else if (chunk->second.size() * 4 < chunk->second.capacity()) {
    chunk->second.shrink_to_fit();  // give back what a mostly freed chunk no longer needs
  }
  return taken;
}

std::optional<LiveAllocation> LiveAllocationIndex::last_at_or_below(uint64_t address) const {
  if (chunks_.empty()) return std::nullopt;
  // The chunk for `address` may hold only higher addresses (its lowest were
  // freed); then the answer is the last entry of an earlier chunk.
  for (auto chunk = chunk_for(address);; --chunk) {
    const Chunk& entries = chunk->second;
    auto after = std::upper_bound(entries.begin(), entries.end(), address,
                                  [](uint64_t wanted, const Packed& packed) { return wanted < packed.address; });
    if (after != entries.begin()) return unpack(*std::prev(after));
    if (chunk == chunks_.begin()) return std::nullopt;
  }
}

std::vector<uint64_t> LiveAllocationIndex::addresses_in(uint64_t begin, uint64_t end) const {
  std::vector<uint64_t> addresses;
  if (chunks_.empty() || begin >= end) return addresses;
  for (auto chunk = chunk_for(begin); chunk != chunks_.end(); ++chunk) {
    if (chunk != chunks_.begin() && chunk->first >= end) break;
    for (auto entry = first_at_or_above(chunk->second, begin); entry != chunk->second.end(); ++entry) {
      if (entry->address >= end) return addresses;
      addresses.push_back(entry->address);
    }
  }
  return addresses;
}

size_t LiveAllocationIndex::memory_bytes() const {
  size_t bytes = 0;
  for (const auto& [key, chunk] : chunks_) bytes += chunk.capacity() * sizeof(Packed) + sizeof(chunk) + 48;
  return bytes;
}

}  // namespace oomtrace
