#include "allocator/caching_allocator/initial_state.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_set>

#include "allocator/caching_allocator/size_classes.h"

namespace oomtrace::caching {
namespace {

struct EarlyBlock {
  uint64_t requested = 0;
  std::optional<uint64_t> exact_size;  // known from the final state
  bool free_requested = false;
};

struct Findings {
  std::map<uint64_t, ExistingSegment> segments;  // by address
  std::map<uint64_t, EarlyBlock> blocks;         // by address
};

// Walks the trace: whatever it frees before allocating existed before it.
void scan_events(const Recording& recording, Findings& found, std::unordered_set<uint64_t>& live_segments,
                 std::unordered_set<uint64_t>& live_blocks) {
  for (const ReplayEvent& event : recording.events) {
    switch (event.action) {
      case ReplayAction::SegmentAlloc:
        live_segments.insert(event.address);
        break;
      case ReplayAction::SegmentFree:
        if (!live_segments.erase(event.address)) {
          found.segments.try_emplace(event.address,
                                     ExistingSegment{event.address, event.size, event.stream,
                                                     event.size == kSmallBuffer, {}});
        }
        break;
      case ReplayAction::Alloc:
        live_blocks.insert(event.address);
        break;
      case ReplayAction::FreeRequested:
        if (!live_blocks.count(event.address)) found.blocks.try_emplace(event.address, EarlyBlock{event.size, {}, false});
        break;
      case ReplayAction::FreeCompleted:
        // Completed with no request in sight: it was already requested.
        if (!live_blocks.erase(event.address)) found.blocks.try_emplace(event.address, EarlyBlock{event.size, {}, true});
        break;
      default:
        break;
    }
  }
}

// The final state adds segments the trace never allocated, and blocks in
// them still out that it never allocated either.
void scan_final_state(const std::vector<RecordedSegment>& final_segments, Findings& found,
                      const std::unordered_set<uint64_t>& live_segments,
                      const std::unordered_set<uint64_t>& live_blocks) {
  for (const RecordedSegment& segment : final_segments) {
    if (!live_segments.count(segment.address)) {
      found.segments.try_emplace(segment.address,
                                 ExistingSegment{segment.address, segment.size, segment.stream, segment.small_pool, {}});
    }
    for (const RecordedBlock& block : segment.blocks) {
      if (!block.active || live_blocks.count(block.address) || found.blocks.count(block.address)) continue;
      found.blocks[block.address] = EarlyBlock{block.size, block.size, block.free_requested};
    }
  }
}

ExistingSegment* segment_containing(std::map<uint64_t, ExistingSegment>& segments, uint64_t address) {
  auto it = segments.upper_bound(address);
  if (it == segments.begin()) return nullptr;
  --it;
  return address - it->first < it->second.size ? &it->second : nullptr;
}

// Sizes for blocks known only by their request, now that their neighbours
// are known: rounded, grown over a gap too small to be free, never past the
// next block.
void settle_sizes(ExistingSegment& segment, const std::vector<std::optional<uint64_t>>& exact,
                  const AllocatorConfig& config) {
  auto& blocks = segment.blocks;
  const uint64_t segment_end = segment.address + segment.size;
  for (size_t i = 0; i < blocks.size(); ++i) {
    uint64_t boundary = i + 1 < blocks.size() ? blocks[i + 1].address : segment_end;
    uint64_t room = boundary - blocks[i].address;
    if (exact[i]) {
      blocks[i].size = std::min(*exact[i], room);
      continue;
    }
    uint64_t size = std::min(round_size(blocks[i].size, config), room);
    bool unsplit_large = !segment.small_pool && !config.expandable_segments && room - size <= kSmallSize;
    blocks[i].size = unsplit_large ? room : size;
  }
}

}  // namespace

InitialState reconstruct_initial_state(const Recording& recording) {
  Findings found;
  std::unordered_set<uint64_t> live_segments;
  std::unordered_set<uint64_t> live_blocks;
  scan_events(recording, found, live_segments, live_blocks);
  if (recording.final_segments) scan_final_state(*recording.final_segments, found, live_segments, live_blocks);

  InitialState state;
  std::map<uint64_t, std::vector<std::optional<uint64_t>>> exact_sizes;  // parallel to each segment's blocks
  for (const auto& [address, block] : found.blocks) {  // address order
    ExistingSegment* segment = segment_containing(found.segments, address);
    if (!segment) {
      ++state.blocks_outside_segments;
      continue;
    }
    segment->blocks.push_back({address, block.requested, block.free_requested});
    exact_sizes[segment->address].push_back(block.exact_size);
  }
  for (auto& [address, segment] : found.segments) {
    settle_sizes(segment, exact_sizes[address], recording.config);
    state.reserved_bytes += segment.size;
    state.segments.push_back(std::move(segment));
  }
  return state;
}

}  // namespace oomtrace::caching
