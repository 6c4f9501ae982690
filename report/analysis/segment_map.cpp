#include "report/analysis/segment_map.h"

#include <algorithm>
#include <bit>
#include <map>
#include <set>

namespace oomtrace::report {
namespace {

void tally_free(SegmentMap& map, MapSegment& segment, std::map<int, MapSizeBucket>& buckets) {
  for (const MapBlock& block : segment.blocks) {
    if (block.state != MapBlockState::Free) continue;
    segment.free_bytes += block.size;
    segment.largest_free_bytes = std::max(segment.largest_free_bytes, block.size);
    int power = std::bit_width(block.size) - 1;  // an empty block lands in bucket -1 (lower 0)
    MapSizeBucket& bucket = buckets[power];
    bucket.lower_bytes = power < 0 ? 0 : uint64_t{1} << power;
    ++bucket.count;
    bucket.bytes += block.size;
  }
  map.free_bytes += segment.free_bytes;
  map.largest_free_bytes = std::max(map.largest_free_bytes, segment.largest_free_bytes);
}

// Keeps the largest blocks of a segment, in address order; the rest are
// counted. Their sizes are still in the segment's free figures.
void keep_largest_blocks(MapSegment& segment, size_t kept) {
  if (segment.blocks.size() <= kept) return;
  std::vector<MapBlock>& blocks = segment.blocks;
  std::nth_element(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(kept), blocks.end(),
                   [](const MapBlock& a, const MapBlock& b) { return a.size > b.size; });
  segment.blocks_not_drawn = blocks.size() - kept;
  blocks.resize(kept);
  std::sort(blocks.begin(), blocks.end(), [](const MapBlock& a, const MapBlock& b) { return a.offset < b.offset; });
}

// Figures over every segment, then the largest kept for drawing.
SegmentMap assemble(std::string source, int device, uint64_t requested_bytes, std::vector<MapSegment> segments) {
  SegmentMap map;
  map.source = std::move(source);
  map.device = device;
  map.requested_bytes = requested_bytes;
  map.segments_total = segments.size();
  std::map<int, MapSizeBucket> buckets;
  for (MapSegment& segment : segments) {
    map.reserved_bytes += segment.size;
    map.blocks_known |= !(segment.blocks.size() == 1 && segment.blocks[0].state == MapBlockState::Opaque);
    tally_free(map, segment, buckets);
  }
  for (const auto& [power, bucket] : buckets) map.free_histogram.push_back(bucket);
  if (segments.size() > kMapSegments) {
    std::stable_sort(segments.begin(), segments.end(),
                     [](const MapSegment& a, const MapSegment& b) { return a.size > b.size; });
    segments.resize(kMapSegments);
  }
  size_t blocks_each = std::max(kMapBlocksPerSegment, kMapBlocks / std::max<size_t>(segments.size(), 1));
  for (MapSegment& segment : segments) keep_largest_blocks(segment, blocks_each);
  std::sort(segments.begin(), segments.end(),
            [](const MapSegment& a, const MapSegment& b) { return a.address < b.address; });
  map.segments = std::move(segments);
  return map;
}

MapBlockState state_of(TorchBlockState state) {
  switch (state) {
    case TorchBlockState::ActiveAllocated:
      return MapBlockState::Allocated;
    case TorchBlockState::ActivePendingFree:
      return MapBlockState::PendingFree;
    case TorchBlockState::Inactive:
      return MapBlockState::Free;
  }
  return MapBlockState::Allocated;
}

}  // namespace

SegmentMap segment_map_from_model(const ProcessMemory& memory, int device, uint64_t requested_bytes) {
  std::vector<MapSegment> segments;
  std::set<uint64_t> sub_allocated;
  for (const SegmentLayout& layout : memory.sub_allocated_segments(device)) {
    MapSegment segment{layout.span.address, layout.span.size, {}, 0, 0, 0};
    segment.blocks.reserve(layout.blocks.size());
    for (const BlockSpan& block : layout.blocks) {
      MapBlockState state = block.allocated ? MapBlockState::Allocated : MapBlockState::Free;
      segment.blocks.push_back({block.address - layout.span.address, block.size, state});
    }
    sub_allocated.insert(layout.span.address);
    segments.push_back(std::move(segment));
  }
  for (const LiveAllocation& allocation : memory.live_on_device(device)) {
    if (sub_allocated.count(allocation.address) > 0) continue;
    segments.push_back({allocation.address, allocation.size, {{0, allocation.size, MapBlockState::Opaque}}, 0, 0, 0});
  }
  return assemble("trace-model", device, requested_bytes, std::move(segments));
}

SegmentMap segment_map_from_snapshot(const TorchSnapshot& snapshot, int device, uint64_t requested_bytes) {
  std::vector<MapSegment> segments;
  for (const TorchSegment& torch_segment : snapshot.segments) {
    if (torch_segment.device != device) continue;
    MapSegment segment{torch_segment.address, torch_segment.total_size, {}, 0, 0, 0};
    segment.blocks.reserve(torch_segment.blocks.size());
    for (const TorchBlock& block : torch_segment.blocks) {
      uint64_t offset = block.address >= torch_segment.address ? block.address - torch_segment.address : 0;
      segment.blocks.push_back({offset, block.size, state_of(block.state)});
    }
    segments.push_back(std::move(segment));
  }
  return assemble("pytorch-snapshot", device, requested_bytes, std::move(segments));
}

}  // namespace oomtrace::report
