#include "allocator/process_memory.h"

#include <algorithm>
#include <iterator>
#include <optional>

namespace oomtrace {
namespace {

LiveAllocation from_event(const Event& event) {
  LiveAllocation allocation;
  allocation.address = event.address;
  // Clamped as the index stores it, so that what is added to reserved
  // memory is what is taken off again (only a corrupt trace gets there).
  allocation.size = std::min(event.size, kMaxLiveAllocationSize);
  allocation.time_ns = event.time_ns;
  allocation.thread = event.thread;
  allocation.stack_id = event.stack_id;
  allocation.device = event.device;
  allocation.api = event.api;
  return allocation;
}

const DeviceFigures kNoFigures{};

// The entry of `map` whose range contains `address`, if any.
std::optional<LiveAllocation> entry_containing(const LiveAllocationIndex& map, uint64_t address) {
  std::optional<LiveAllocation> entry = map.last_at_or_below(address);
  if (entry && address - entry->address < entry->size) return entry;
  return std::nullopt;
}

}  // namespace

void ProcessMemory::apply(const Event& event) {
  MemoryKind kind = api_memory_kind(event.api);
  switch (event.type) {
    case EventType::Alloc:
      if (kind == MemoryKind::Mapping) {
        on_map(event);
      } else if (kind == MemoryKind::SubAllocation) {
        on_pool_alloc(event);
      } else {
        on_alloc(event);
      }
      break;
    case EventType::Free:
      if (kind == MemoryKind::Mapping) {
        on_unmap(event);
      } else if (kind == MemoryKind::SubAllocation) {
        on_pool_free(event);
      } else {
        on_free(event);
      }
      break;
    case EventType::AllocFailed:
      ++totals_.failed_allocations;
      if (event.device != kHostDevice) figures(event.device);
      break;
  }
}

DeviceFigures& ProcessMemory::figures(int device) { return devices_[device]; }

void ProcessMemory::add_reserved(const LiveAllocation& allocation) {
  DeviceFigures& fig = figures(allocation.device);
  fig.reserved_bytes += allocation.size;
  fig.peak_reserved_bytes = std::max(fig.peak_reserved_bytes, fig.reserved_bytes);
  ++fig.segment_count;
  blocks_.add_segment(allocation.device, allocation.size);
  if (api_is_stream_ordered(allocation.api)) fig.stream_ordered_bytes += allocation.size;
  if (allocation.api == Api::cuMemCreate) fig.physical_handle_bytes += allocation.size;
}

void ProcessMemory::remove_reserved(const LiveAllocation& allocation) {
  DeviceFigures& fig = figures(allocation.device);
  fig.reserved_bytes -= std::min(fig.reserved_bytes, allocation.size);
  if (fig.segment_count > 0) --fig.segment_count;
  blocks_.remove_segment(allocation.device, allocation.size);
  if (api_is_stream_ordered(allocation.api)) {
    fig.stream_ordered_bytes -= std::min(fig.stream_ordered_bytes, allocation.size);
  }
  if (allocation.api == Api::cuMemCreate) {
    fig.physical_handle_bytes -= std::min(fig.physical_handle_bytes, allocation.size);
  }
}

void ProcessMemory::on_alloc(const Event& event) {
  ++totals_.allocations;
  LiveAllocation allocation = from_event(event);
  switch (api_memory_kind(event.api)) {
    case MemoryKind::Device:
      pointers_.insert_or_assign(allocation);
      add_reserved(allocation);
      break;
    case MemoryKind::PhysicalHandle:
      // A cuMemCreate on the host (NCCL's cuMem host buffers) has no device.
      if (allocation.device == kHostDevice) {
        host_pinned_bytes_ += allocation.size;
        peak_host_pinned_bytes_ = std::max(peak_host_pinned_bytes_, host_pinned_bytes_);
      } else {
        add_reserved(allocation);
      }
      physical_handles_.insert_or_assign(allocation);
      break;
    case MemoryKind::Managed:
      pointers_.insert_or_assign(allocation);
      if (allocation.device != kHostDevice) figures(allocation.device).managed_bytes += allocation.size;
      break;
    case MemoryKind::HostPinned:
      allocation.device = kHostDevice;
      pointers_.insert_or_assign(allocation);
      host_pinned_bytes_ += allocation.size;
      peak_host_pinned_bytes_ = std::max(peak_host_pinned_bytes_, host_pinned_bytes_);
      break;
    case MemoryKind::AddressRange:
      address_ranges_.insert_or_assign(allocation);
      break;
    case MemoryKind::Mapping:
    case MemoryKind::SubAllocation:
      break;  // handled by on_map and on_pool_alloc
  }
}

void ProcessMemory::on_free(const Event& event) {
  AllocationMap* map = &pointers_;
  MemoryKind kind = api_memory_kind(event.api);
  if (kind == MemoryKind::PhysicalHandle) map = &physical_handles_;
  if (kind == MemoryKind::AddressRange) map = &address_ranges_;

  std::optional<LiveAllocation> found = map->take(event.address);
  if (!found) {
    ++totals_.unmatched_frees;
    return;
  }
  ++totals_.frees;
  const LiveAllocation& allocation = *found;
  switch (api_memory_kind(allocation.api)) {
    case MemoryKind::Device:
      remove_reserved(allocation);
      blocks_.forget_blocks(allocation.address);
      break;
    case MemoryKind::PhysicalHandle:
      if (allocation.device == kHostDevice) {
        host_pinned_bytes_ -= std::min(host_pinned_bytes_, allocation.size);
      } else {
        remove_reserved(allocation);
      }
      break;
    case MemoryKind::Managed:
      if (allocation.device != kHostDevice) {
        auto& managed = figures(allocation.device).managed_bytes;
        managed -= std::min(managed, allocation.size);
      }
      break;
    case MemoryKind::HostPinned:
      host_pinned_bytes_ -= std::min(host_pinned_bytes_, allocation.size);
      break;
    case MemoryKind::AddressRange:
    case MemoryKind::Mapping:
    case MemoryKind::SubAllocation:
      break;
  }
}

void ProcessMemory::on_map(const Event& event) {
  LiveAllocation mapping = from_event(event);
  if (std::optional<LiveAllocation> handle = physical_handles_.find(event.handle)) mapping.device = handle->device;
  if (mapping.device != kHostDevice) figures(mapping.device).mapped_bytes += mapping.size;
  mappings_.insert_or_assign(mapping);
}

void ProcessMemory::on_unmap(const Event& event) {
  // cuMemUnmap may cover several mappings; drop every one inside the range.
  uint64_t end = event.address + std::min(event.size, UINT64_MAX - event.address);
  mappings_.take_range(event.address, end, [&](const LiveAllocation& mapping) {
    if (mapping.device != kHostDevice) {
      auto& mapped = figures(mapping.device).mapped_bytes;
      mapped -= std::min(mapped, mapping.size);
    }
    blocks_.forget_blocks(mapping.address);
  });
}

void ProcessMemory::on_pool_alloc(const Event& event) {
  std::optional<SegmentSpan> segment = segment_containing(event.address);
  if (!segment || !blocks_.allocate(*segment, event.address, event.size)) {
    ++totals_.unmatched_pool_calls;
    return;
  }
  ++totals_.pool_allocations;
}

void ProcessMemory::on_pool_free(const Event& event) {
  if (!blocks_.release(event.address)) {
    ++totals_.unmatched_pool_calls;
    return;
  }
  ++totals_.pool_frees;
}

// A segment already sub-allocated first (the common case for a pool call),
// then the device allocations, then the mapped ranges.
std::optional<SegmentSpan> ProcessMemory::segment_containing(uint64_t address) const {
  if (auto known = blocks_.sub_allocated_segment_containing(address)) return known;
  std::optional<LiveAllocation> pointer = entry_containing(pointers_, address);
  if (pointer && api_memory_kind(pointer->api) == MemoryKind::Device) {
    return SegmentSpan{pointer->address, pointer->size, pointer->device};
  }
  std::optional<LiveAllocation> mapping = entry_containing(mappings_, address);
  if (mapping && mapping->device != kHostDevice) {
    return SegmentSpan{mapping->address, mapping->size, mapping->device};
  }
  return std::nullopt;
}

int ProcessMemory::device_containing(uint64_t address) const {
  std::optional<SegmentSpan> segment = segment_containing(address);
  return segment ? segment->device : kHostDevice;
}

const DeviceFigures& ProcessMemory::device(int index) const {
  auto found = devices_.find(index);
  return found == devices_.end() ? kNoFigures : found->second;
}

std::vector<int> ProcessMemory::devices() const {
  std::vector<int> indices;
  for (const auto& [index, figures] : devices_) indices.push_back(index);
  return indices;
}

std::vector<LiveAllocation> ProcessMemory::live_on_device(int device) const {
  std::vector<LiveAllocation> live;
  auto collect = [&](const AllocationMap& map) {
    map.for_each([&](const LiveAllocation& allocation) {
      if (allocation.device == device) live.push_back(allocation);
    });
  };
  collect(pointers_);
  collect(physical_handles_);
  std::erase_if(live, [](const LiveAllocation& a) {
    MemoryKind kind = api_memory_kind(a.api);
    return kind != MemoryKind::Device && kind != MemoryKind::PhysicalHandle;
  });
  std::sort(live.begin(), live.end(), [](const LiveAllocation& a, const LiveAllocation& b) {
    return a.size != b.size ? a.size > b.size : a.address < b.address;
  });
  return live;
}

size_t ProcessMemory::live_count() const {
  return pointers_.size() + physical_handles_.size();
}

}  // namespace oomtrace
