#include "report/snapshot/snapshot_analysis.h"

#include <algorithm>
#include <bit>
#include <map>
#include <unordered_map>

#include "report/snapshot/torch_frames.h"

namespace oomtrace::report {
namespace {

// One device's sums while the segments are walked; sorted and trimmed into
// a TorchDeviceMemory at the end.
struct DeviceSums {
  TorchDeviceMemory memory;
  uint64_t block_bytes = 0;              // to check against reserved
  uint64_t segments_allocated_size = 0;  // PyTorch's own sum, to check against allocated
  std::map<std::string, TorchAllocationSite> sites;
  std::map<int, TorchSizeBucket> buckets;  // by floor(log2(size)); -1 for size 0
  std::vector<const TorchBlock*> active;   // allocated or pending free
};

// Sites are worked out once per distinct stack: many blocks share one.
class SiteCache {
 public:
  explicit SiteCache(const TorchSnapshot& snapshot) : snapshot_(snapshot) {}
  const std::string& site(TorchStackId stack) {
    auto known = sites_.find(stack);
    if (known == sites_.end()) known = sites_.emplace(stack, allocation_site(snapshot_, stack)).first;
    return known->second;
  }

 private:
  const TorchSnapshot& snapshot_;
  std::unordered_map<TorchStackId, std::string> sites_;
};

TorchSizeBucket bucket_for(uint64_t size) {
  if (size == 0) return {0, 1, 0, 0};
  int power = 63 - std::countl_zero(size);
  uint64_t min = uint64_t{1} << power;
  return {min, power == 63 ? UINT64_MAX : min << 1, 0, 0};
}

void count(TorchStateTally& tally, uint64_t bytes) {
  ++tally.blocks;
  tally.bytes += bytes;
}

void add_block(DeviceSums& sums, const TorchBlock& block, SiteCache& sites) {
  TorchDeviceMemory& m = sums.memory;
  sums.block_bytes += block.size;
  switch (block.state) {
    case TorchBlockState::ActiveAllocated: {
      count(m.active_allocated, block.size);
      m.allocated_bytes += block.size;
      m.requested_bytes += block.requested_size;
      TorchAllocationSite& site = sums.sites[sites.site(block.stack)];
      site.bytes += block.size;
      ++site.blocks;
      sums.active.push_back(&block);
      break;
    }
    case TorchBlockState::ActivePendingFree:
      count(m.active_pending_free, block.size);
      m.pending_free_bytes += block.size;
      sums.active.push_back(&block);
      break;
    case TorchBlockState::Inactive: {
      count(m.inactive, block.size);
      m.largest_free_block_bytes = std::max(m.largest_free_block_bytes, block.size);
      int power = block.size == 0 ? -1 : 63 - std::countl_zero(block.size);
      auto [bucket, added] = sums.buckets.try_emplace(power, bucket_for(block.size));
      ++bucket->second.blocks;
      bucket->second.bytes += block.size;
      break;
    }
  }
}

void add_segment(DeviceSums& sums, const TorchSegment& segment, SiteCache& sites) {
  TorchDeviceMemory& m = sums.memory;
  m.reserved_bytes += segment.total_size;
  ++m.segments;
  ++(segment.type == TorchSegmentType::Small ? m.small_segments : m.large_segments);
  if (segment.is_expandable) ++m.expandable_segments;
  sums.segments_allocated_size += segment.allocated_size;
  for (const TorchBlock& block : segment.blocks) add_block(sums, block, sites);
}

void count_trace(TorchDeviceMemory& m, const std::vector<TorchTraceEntry>& entries, const TorchSnapshot& snapshot) {
  std::map<TorchTraceAction, uint64_t> known;
  std::map<std::string, uint64_t> others;
  for (const TorchTraceEntry& entry : entries) {
    if (entry.action == TorchTraceAction::Other) {
      ++others[entry.other_action];
    } else {
      ++known[entry.action];
    }
    if (entry.action == TorchTraceAction::Oom) {
      m.last_oom = TorchOomEvent{entry.size, entry.device_free_bytes, entry.time_us,
                                 python_stack(snapshot, entry.stack, kTorchFramesPerBlock)};
    }
  }
  m.trace_events = entries.size();
  for (const auto& [action, n] : known) m.trace_actions.push_back({torch_trace_action_name(action), n});
  for (const auto& [name, n] : others) m.trace_actions.push_back({name, n});
}

std::vector<TorchAllocationSite> top_sites(const std::map<std::string, TorchAllocationSite>& sites) {
  std::vector<TorchAllocationSite> sorted;
  for (const auto& [name, site] : sites) sorted.push_back({name, site.bytes, site.blocks});
  // Most bytes first; the map's name order breaks ties, so output is stable.
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const TorchAllocationSite& a, const TorchAllocationSite& b) { return a.bytes > b.bytes; });
  if (sorted.size() > kTorchTopSites) sorted.resize(kTorchTopSites);
  return sorted;
}

std::vector<TorchLargeBlock> largest_blocks(std::vector<const TorchBlock*> active, const TorchSnapshot& snapshot,
                                            SiteCache& sites) {
  size_t shown = std::min(active.size(), kTorchLargestBlocks);
  std::partial_sort(active.begin(), active.begin() + static_cast<std::ptrdiff_t>(shown), active.end(),
                    [](const TorchBlock* a, const TorchBlock* b) {
                      return a->size != b->size ? a->size > b->size : a->address < b->address;
                    });
  std::vector<TorchLargeBlock> blocks;
  for (size_t i = 0; i < shown; ++i) {
    const TorchBlock& block = *active[i];
    blocks.push_back({block.address, block.size, block.requested_size, block.state, sites.site(block.stack),
                      python_stack(snapshot, block.stack, kTorchFramesPerBlock)});
  }
  return blocks;
}

std::string gpu(int device) { return "GPU " + std::to_string(device); }

// Turns the sums into the figures, noting where the snapshot disagrees
// with itself (the figures then follow the definitions in the header).
TorchDeviceMemory finish(DeviceSums& sums, const TorchSnapshot& snapshot, SiteCache& sites,
                         std::vector<std::string>& notes) {
  TorchDeviceMemory m = std::move(sums.memory);
  if (sums.block_bytes != m.reserved_bytes) {
    notes.push_back(gpu(m.device) + ": the blocks add up to " + std::to_string(sums.block_bytes) +
                    " bytes but the segments to " + std::to_string(m.reserved_bytes) + "; reserved is the segments' sum.");
  }
  if (sums.segments_allocated_size != 0 && sums.segments_allocated_size != m.allocated_bytes) {
    notes.push_back(gpu(m.device) + ": the segments' allocated_size adds up to " +
                    std::to_string(sums.segments_allocated_size) + " bytes, the active_allocated blocks to " +
                    std::to_string(m.allocated_bytes) + "; allocated is the blocks' sum.");
  }
  m.cached_free_bytes = m.reserved_bytes > m.allocated_bytes ? m.reserved_bytes - m.allocated_bytes : 0;
  if (m.cached_free_bytes > 0) {
    m.fragmentation = 1.0 - static_cast<double>(m.largest_free_block_bytes) / static_cast<double>(m.cached_free_bytes);
  }
  for (const auto& [power, bucket] : sums.buckets) m.free_block_histogram.push_back(bucket);
  m.top_sites = top_sites(sums.sites);
  m.largest_blocks = largest_blocks(std::move(sums.active), snapshot, sites);
  return m;
}

}  // namespace

TorchSnapshotAnalysis analyze_torch_snapshot(const TorchSnapshot& snapshot) {
  std::map<int, DeviceSums> devices;
  auto sums_for = [&](int device) -> DeviceSums& {
    DeviceSums& sums = devices[device];
    sums.memory.device = device;
    return sums;
  };
  SiteCache sites(snapshot);
  for (const TorchSegment& segment : snapshot.segments) add_segment(sums_for(segment.device), segment, sites);
  for (size_t device = 0; device < snapshot.device_traces.size(); ++device) {
    if (!snapshot.device_traces[device].empty()) {
      count_trace(sums_for(static_cast<int>(device)).memory, snapshot.device_traces[device], snapshot);
    }
  }

  TorchSnapshotAnalysis analysis;
  analysis.format = snapshot.format;
  for (auto& [device, sums] : devices) analysis.devices.push_back(finish(sums, snapshot, sites, analysis.notes));
  analysis.allocator_settings = snapshot.allocator_settings;
  analysis.external_annotations = snapshot.external_annotations.size();
  return analysis;
}

const TorchDeviceMemory* find_device(const TorchSnapshotAnalysis& analysis, int device) {
  for (const TorchDeviceMemory& memory : analysis.devices) {
    if (memory.device == device) return &memory;
  }
  return nullptr;
}

}  // namespace oomtrace::report
