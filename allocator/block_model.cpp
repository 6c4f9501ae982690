#include "allocator/block_model.h"

#include <algorithm>
#include <iterator>

namespace oomtrace {

void BlockModel::add_segment(int device, uint64_t size) {
  DeviceBlocks& blocks = devices_[device];
  blocks.reserved_bytes += size;
  ++blocks.segments;
}

void BlockModel::remove_segment(int device, uint64_t size) {
  DeviceBlocks& blocks = devices_[device];
  blocks.reserved_bytes -= std::min(blocks.reserved_bytes, size);
  if (blocks.segments > 0) --blocks.segments;
}

void BlockModel::forget_blocks(uint64_t address) {
  if (segments_.empty()) return;  // the common case: nobody reports blocks
  auto found = segments_.find(address);
  if (found == segments_.end()) return;
  DeviceBlocks& device = devices_[found->second.device];
  for (const auto& [start, block] : found->second.blocks) {
    if (block.allocated) {
      --device.live_blocks;
    } else {
      device.free.remove(block.size);
    }
  }
  --device.sub_allocated_segments;
  segments_.erase(found);
}

bool BlockModel::allocate(const SegmentSpan& span, uint64_t address, uint64_t size) {
  if (size == 0 || !span.contains(address, size)) return false;
  SubAllocatedSegment& segment = start_sub_allocating(span);
  free_overlapping(segment, address, size);
  // Free blocks are always merged, so one free block now covers the range.
  carve(segment, block_containing(segment.blocks, address), address, size);
  return true;
}

bool BlockModel::release(uint64_t address) {
  auto segment = segment_containing(address);
  if (segment == segments_.end()) return false;
  auto block = segment->second.blocks.find(address);
  if (block == segment->second.blocks.end() || !block->second.allocated) return false;
  free_block(segment->second, block);
  return true;
}

std::optional<SegmentSpan> BlockModel::sub_allocated_segment_containing(uint64_t address) const {
  auto after = segments_.upper_bound(address);
  if (after == segments_.begin()) return std::nullopt;
  const auto& [start, segment] = *std::prev(after);
  SegmentSpan span{start, segment.size, segment.device};
  if (!span.contains(address, 1)) return std::nullopt;
  return span;
}

BlockFigures BlockModel::figures(int device) const {
  BlockFigures figures;
  auto found = devices_.find(device);
  if (found == devices_.end()) return figures;
  const DeviceBlocks& blocks = found->second;
  figures.reserved_bytes = blocks.reserved_bytes;
  // A mapping's blocks can outlive its released handle for a while; never
  // claim more cached than reserved.
  figures.cached_free_bytes = std::min(blocks.free.total_bytes(), blocks.reserved_bytes);
  figures.allocated_bytes = blocks.reserved_bytes - figures.cached_free_bytes;
  figures.largest_free_block_bytes = std::min(blocks.free.largest(), figures.cached_free_bytes);
  if (figures.cached_free_bytes > 0) {
    figures.fragmentation = 1.0 - static_cast<double>(figures.largest_free_block_bytes) /
                                      static_cast<double>(figures.cached_free_bytes);
  }
  figures.sub_allocated_segments = blocks.sub_allocated_segments;
  // Mapped ranges are sub-allocated without being segments themselves.
  figures.opaque_segments =
      blocks.segments - std::min(blocks.segments, blocks.sub_allocated_segments);
  figures.live_blocks = blocks.live_blocks;
  return figures;
}

std::vector<FreeSizeBucket> BlockModel::free_histogram(int device) const {
  auto found = devices_.find(device);
  return found == devices_.end() ? std::vector<FreeSizeBucket>{} : found->second.free.histogram();
}

std::vector<SegmentLayout> BlockModel::layouts(int device) const {
  std::vector<SegmentLayout> result;
  for (const auto& [start, segment] : segments_) {
    if (segment.device != device) continue;
    SegmentLayout layout{{start, segment.size, segment.device}, {}};
    layout.blocks.reserve(segment.blocks.size());
    for (const auto& [address, block] : segment.blocks) layout.blocks.push_back({address, block.size, block.allocated});
    result.push_back(std::move(layout));
  }
  return result;
}

BlockModel::Segments::iterator BlockModel::segment_containing(uint64_t address) {
  auto after = segments_.upper_bound(address);
  if (after == segments_.begin()) return segments_.end();
  auto segment = std::prev(after);
  return address - segment->first < segment->second.size ? segment : segments_.end();
}

// The segment's record, created on its first block as one free block that
// spans it.
BlockModel::SubAllocatedSegment& BlockModel::start_sub_allocating(const SegmentSpan& span) {
  auto [found, inserted] = segments_.try_emplace(span.address);
  SubAllocatedSegment& segment = found->second;
  if (!inserted) return segment;
  segment.size = span.size;
  segment.device = span.device;
  segment.blocks.emplace(span.address, Block{span.size, false});
  DeviceBlocks& device = devices_[span.device];
  ++device.sub_allocated_segments;
  device.free.add(span.size);
  return segment;
}

BlockModel::Blocks::iterator BlockModel::block_containing(Blocks& blocks, uint64_t address) {
  return std::prev(blocks.upper_bound(address));  // blocks tile the segment
}

void BlockModel::free_overlapping(SubAllocatedSegment& segment, uint64_t address, uint64_t size) {
  uint64_t end = address + size;
  auto block = block_containing(segment.blocks, address);
  while (block != segment.blocks.end() && block->first < end) {
    if (block->second.allocated) block = free_block(segment, block);
    ++block;
  }
}

// Splits the free block `hole` into free before, the new block, free after.
void BlockModel::carve(SubAllocatedSegment& segment, Blocks::iterator hole, uint64_t address,
                       uint64_t size) {
  DeviceBlocks& device = devices_[segment.device];
  uint64_t hole_start = hole->first;
  uint64_t hole_end = hole_start + hole->second.size;
  uint64_t end = address + size;
  device.free.remove(hole->second.size);
  if (address > hole_start) {
    hole->second.size = address - hole_start;
    device.free.add(hole->second.size);
    hole = segment.blocks.emplace_hint(std::next(hole), address, Block{});
  }
  hole->second = Block{size, true};
  if (hole_end > end) {
    segment.blocks.emplace_hint(std::next(hole), end, Block{hole_end - end, false});
    device.free.add(hole_end - end);
  }
  ++device.live_blocks;
}

// Marks `block` free and merges it with free neighbours; returns the merged
// free block.
BlockModel::Blocks::iterator BlockModel::free_block(SubAllocatedSegment& segment,
                                                    Blocks::iterator block) {
  DeviceBlocks& device = devices_[segment.device];
  --device.live_blocks;
  block->second.allocated = false;
  if (block != segment.blocks.begin()) {
    auto before = std::prev(block);
    if (!before->second.allocated) {
      device.free.remove(before->second.size);
      before->second.size += block->second.size;
      segment.blocks.erase(block);
      block = before;
    }
  }
  auto after = std::next(block);
  if (after != segment.blocks.end() && !after->second.allocated) {
    device.free.remove(after->second.size);
    block->second.size += after->second.size;
    segment.blocks.erase(after);
  }
  device.free.add(block->second.size);
  return block;
}

}  // namespace oomtrace
