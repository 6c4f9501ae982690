// What a PyTorch memory snapshot says about each device, worked out to the
// byte. Plain data, rendered by the report's JSON and text writers.
//
// Definitions, per device (a block belongs to its segment's device):
//   reserved      sum of the segments' total_size: what PyTorch holds from CUDA
//                 (torch.cuda.memory_reserved).
//   allocated     sum of the sizes of active_allocated blocks: what tensors
//                 hold (torch.cuda.memory_allocated; equals the sum of the
//                 segments' allocated_size in a consistent snapshot).
//   pending free  sum of active_pending_free blocks: freed by the program but
//                 waiting on a stream, so neither allocated nor reusable yet.
//                 It counts in cached free, never as a free block.
//   cached free   reserved - allocated: PyTorch's "reserved but unallocated"
//                 (inactive blocks plus pending-free ones).
//   largest free  the largest inactive block: the biggest request the cache
//                 can serve without asking CUDA for more.
//   fragmentation 1 - largest free / cached free; null when cached free is 0.
//                 0 means the cached memory is one block; near 1, it is
//                 scattered in pieces too small for a large request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "report/snapshot/torch_snapshot.h"

namespace oomtrace::report {

inline constexpr size_t kTorchTopSites = 10;
inline constexpr size_t kTorchLargestBlocks = 10;
inline constexpr size_t kTorchFramesPerBlock = 16;

struct TorchStateTally {
  uint64_t blocks = 0;
  uint64_t bytes = 0;
};

// Free (inactive) blocks with min_bytes <= size < max_bytes, a power of two
// apart (the first bucket is [0, 1) for empty blocks).
struct TorchSizeBucket {
  uint64_t min_bytes = 0;
  uint64_t max_bytes = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
};

// Live (active_allocated) blocks grouped by where they were allocated.
struct TorchAllocationSite {
  std::string site;  // see allocation_site() in torch_frames.h
  uint64_t bytes = 0;
  uint64_t blocks = 0;
};

struct TorchLargeBlock {
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t requested_size = 0;
  TorchBlockState state = TorchBlockState::ActiveAllocated;
  std::string site;                       // as in TorchAllocationSite
  std::vector<std::string> python_stack;  // innermost first, at most kTorchFramesPerBlock
};

struct TorchActionCount {
  std::string action;  // PyTorch's name: "alloc", "free_requested", ...
  uint64_t count = 0;
};

struct TorchOomEvent {
  uint64_t requested_bytes = 0;
  std::optional<uint64_t> device_free_bytes;
  std::optional<int64_t> time_us;
  // Where the failing allocation came from, innermost first, at most
  // kTorchFramesPerBlock: empty when history was off or had no Python frame.
  std::vector<std::string> python_stack;
};

struct TorchDeviceMemory {
  int device = 0;
  uint64_t reserved_bytes = 0;
  uint64_t allocated_bytes = 0;
  uint64_t requested_bytes = 0;  // what the program asked for in its allocated blocks
  uint64_t pending_free_bytes = 0;
  uint64_t cached_free_bytes = 0;
  uint64_t largest_free_block_bytes = 0;
  std::optional<double> fragmentation;

  uint64_t segments = 0;
  uint64_t small_segments = 0;
  uint64_t large_segments = 0;
  uint64_t expandable_segments = 0;

  TorchStateTally active_allocated;
  TorchStateTally active_pending_free;
  TorchStateTally inactive;

  std::vector<TorchSizeBucket> free_block_histogram;  // smallest first, non-empty buckets only
  std::vector<TorchAllocationSite> top_sites;         // most bytes first, at most kTorchTopSites
  std::vector<TorchLargeBlock> largest_blocks;        // active blocks, largest first, at most kTorchLargestBlocks

  uint64_t trace_events = 0;
  std::vector<TorchActionCount> trace_actions;  // PyTorch's action order, then unknown names; non-zero only
  std::optional<TorchOomEvent> last_oom;        // the last "oom" entry of the device's trace
};

struct TorchSnapshotAnalysis {
  TorchSnapshotFormat format = TorchSnapshotFormat::Current;
  std::vector<TorchDeviceMemory> devices;  // by index: every device with a segment or a trace entry
  std::vector<TorchSetting> allocator_settings;
  uint64_t external_annotations = 0;
  std::vector<std::string> notes;  // inconsistencies inside the snapshot, in words
};

TorchSnapshotAnalysis analyze_torch_snapshot(const TorchSnapshot& snapshot);

// nullptr when the snapshot says nothing about that device.
const TorchDeviceMemory* find_device(const TorchSnapshotAnalysis& analysis, int device);

}  // namespace oomtrace::report
