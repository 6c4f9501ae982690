// Fragmentation, end to end: memory free inside what the process holds, in
// pieces too small for the next request. Run under liboomtrace.so by
// scenario_fragmentation_tests.cpp.
//
//   pool_api             a program's own allocator over a cudaMalloc arena,
//                        reporting its blocks through the pool API
//   pool_api_full        the same with every block still live: no hole
//   pool_api_unmatched   pool calls on memory no allocation holds
//   async_pool           cudaMallocAsync with a pool that keeps its memory
//   growing_sequence     PyTorch's caching-allocator policy (the replay
//                        model) over cudaMalloc, a growing sequence length
#include <cuda_runtime_api.h>

#include "allocator/caching_allocator/caching_allocator.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

// As README.md shows: weak, so the program runs without the library too.
#define OOMTRACE_OPTIONAL
#include <oomtrace/oomtrace.h>

namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;
constexpr size_t kGranule = 2 * kMiB;

bool pool_api_present() { return oomtrace_pool_alloc != nullptr && oomtrace_pool_free != nullptr; }

void report_alloc(const void* block, size_t bytes) {
  if (oomtrace_pool_alloc) oomtrace_pool_alloc(block, bytes);
}

void report_free(const void* block) {
  if (oomtrace_pool_free) oomtrace_pool_free(block);
}

// A program's own allocator, as a framework writes one: it takes segments
// from cudaMalloc and hands out blocks from them, first fit, merging freed
// neighbours. It grows by a segment of exactly what a request needs when no
// free range is large enough.
class ArenaAllocator {
 public:
  explicit ArenaAllocator(size_t first_segment_bytes) { add_segment(first_segment_bytes); }

  void* allocate(size_t bytes) {
    bytes = (bytes + kGranule - 1) / kGranule * kGranule;
    for (Segment& segment : segments_) {
      if (void* block = carve(segment, bytes)) return block;
    }
    if (!add_segment(bytes)) return nullptr;
    return carve(segments_.back(), bytes);
  }

  void release(void* block) {
    auto found = live_.find(block);
    if (found == live_.end()) return;
    report_free(block);
    auto [segment, bytes] = found->second;
    live_.erase(found);
    give_back(*segment, static_cast<char*>(block) - segment->base, bytes);
  }

 private:
  struct Segment {
    char* base = nullptr;
    std::map<size_t, size_t> free;  // offset -> bytes, neighbours merged
  };

  bool add_segment(size_t bytes) {
    void* base = nullptr;
    if (cudaMalloc(&base, bytes) != cudaSuccess) return false;
    segments_.push_back(Segment{static_cast<char*>(base), {{0, bytes}}});
    return true;
  }

  void* carve(Segment& segment, size_t bytes) {
    for (auto range = segment.free.begin(); range != segment.free.end(); ++range) {
      auto [offset, length] = *range;
      if (length < bytes) continue;
      segment.free.erase(range);
      if (length > bytes) segment.free.emplace(offset + bytes, length - bytes);
      void* block = segment.base + offset;
      live_[block] = {&segment, bytes};
      report_alloc(block, bytes);
      return block;
    }
    return nullptr;
  }

  static void give_back(Segment& segment, size_t offset, size_t bytes) {
    auto next = segment.free.lower_bound(offset);
    if (next != segment.free.end() && offset + bytes == next->first) {
      bytes += next->second;
      next = segment.free.erase(next);
    }
    if (next != segment.free.begin()) {
      auto previous = std::prev(next);
      if (previous->first + previous->second == offset) {
        previous->second += bytes;
        return;
      }
    }
    segment.free.emplace(offset, bytes);
  }

  std::deque<Segment> segments_;  // a deque: live blocks point at their segment
  std::map<void*, std::pair<Segment*, size_t>> live_;
};

// A 2 GiB arena in sixteen 128 MiB blocks; every other block freed leaves
// 1 GiB free in 128 MiB holes, so 512 MiB needs a new segment.
int pool_api(bool free_every_other) {
  std::printf("pool API %s\n", pool_api_present() ? "present" : "absent");
  ArenaAllocator arena(2 * kGiB);
  std::vector<void*> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(arena.allocate(128 * kMiB));
  if (free_every_other) {
    for (int i = 0; i < 16; i += 2) arena.release(blocks[i]);
  }
  void* larger = arena.allocate(512 * kMiB);
  std::printf("512 MiB block: %s\n", larger ? "allocated" : "out of memory");
  return larger ? 0 : 1;
}

int pool_api_unmatched() {
  void* segment = nullptr;
  if (cudaMalloc(&segment, 64 * kMiB) != cudaSuccess) return 90;
  int on_the_stack = 0;
  report_alloc(&on_the_stack, sizeof on_the_stack);                   // host memory
  report_free(static_cast<char*>(segment) + 4096);                    // never reported
  report_alloc(static_cast<char*>(segment) + 60 * kMiB, 8 * kMiB);   // runs past the segment
  report_alloc(nullptr, 4096);                                        // ignored
  report_alloc(segment, 16 * kMiB);                                   // fine
  std::printf("pool API %s\n", pool_api_present() ? "present" : "absent");
  return 0;
}

uint64_t pool_attribute(cudaMemPool_t pool, cudaMemPoolAttr attribute) {
  uint64_t value = 0;
  cudaMemPoolGetAttribute(pool, attribute, &value);
  return value;
}

// Sixteen 256 MiB blocks fill the device's 4 GiB in four 1 GiB chunks
// (FAKE_CUDA_POOL_CHUNK_MIB=1024); every other block freed leaves 2 GiB
// cached in 256 MiB holes inside chunks still in use, so the pool can
// neither serve 512 MiB nor give a chunk back to make room.
int async_pool() {
  cudaMemPool_t pool = nullptr;
  cudaDeviceGetDefaultMemPool(&pool, 0);
  uint64_t keep_everything = UINT64_MAX;
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_everything);
  cudaStream_t stream = nullptr;
  cudaStreamCreate(&stream);
  std::vector<void*> blocks(16);
  for (void*& block : blocks) {
    if (cudaMallocAsync(&block, 256 * kMiB, stream) != cudaSuccess) return 90;
  }
  for (int i = 14; i >= 0; i -= 2) cudaFreeAsync(blocks[i], stream);  // out of order
  void* larger = nullptr;
  cudaError_t result = cudaMallocAsync(&larger, 512 * kMiB, stream);
  auto reserved = static_cast<unsigned long long>(pool_attribute(pool, cudaMemPoolAttrReservedMemCurrent));
  auto used = static_cast<unsigned long long>(pool_attribute(pool, cudaMemPoolAttrUsedMemCurrent));
  std::printf("512 MiB cudaMallocAsync: %d; pool reserved %llu used %llu\n", result, reserved, used);
  return result == cudaErrorMemoryAllocation ? 1 : 0;
}

// PyTorch's caching-allocator policy over real (simulated) device memory:
// the model oomtrace replays (allocator/caching_allocator/) used here as
// the program's allocator, configured by PYTORCH_CUDA_ALLOC_CONF, taking
// its segments with cudaMalloc and reporting its blocks through the pool
// API. Expandable segments are not backed here: this program runs with
// fixed segments, as PyTorch does by default.
class CudaSegments : public oomtrace::caching::Device {
 public:
  uint64_t total_bytes() const override {
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    return total;
  }
  std::optional<uint64_t> allocate_segment(uint64_t size) override {
    void* base = nullptr;
    if (cudaMalloc(&base, size) != cudaSuccess) return std::nullopt;
    return reinterpret_cast<uint64_t>(base);
  }
  void free_segment(uint64_t address, uint64_t) override { cudaFree(reinterpret_cast<void*>(address)); }
  void adopt_segment(uint64_t, uint64_t) override {}
  uint64_t reserve_address_range(uint64_t) override { return 0; }
  void release_address_range(uint64_t, uint64_t) override {}
  bool map_pages(uint64_t, uint64_t) override { return false; }
  void unmap_pages(uint64_t, uint64_t) override {}
};

// A growing sequence length: each step's activations are a little larger
// than the last step's, so they never fit the blocks the last step freed,
// while a part of each step is kept (a cache row) and lands in the freshly
// freed segment, pinning it. Under the default settings the pinned, mostly
// empty segments pile up until the device says no.
int growing_sequence() {
  const char* conf = std::getenv("PYTORCH_CUDA_ALLOC_CONF");
  oomtrace::caching::ConfigParse parsed = oomtrace::caching::parse_alloc_conf(conf ? conf : "");
  if (!parsed.config || parsed.config->expandable_segments) {
    std::fprintf(stderr, "PYTORCH_CUDA_ALLOC_CONF: %s\n", parsed.config ? "expandable segments not backed here"
                                                                         : parsed.error.c_str());
    return 2;
  }
  CudaSegments device;
  oomtrace::caching::CachingAllocator allocator(*parsed.config, device);
  auto take = [&](uint64_t size) -> std::optional<uint64_t> {
    auto allocation = allocator.allocate(size);
    if (allocation) report_alloc(reinterpret_cast<void*>(allocation->address), size);
    return allocation ? std::optional<uint64_t>(allocation->address) : std::nullopt;
  };
  auto give = [&](uint64_t address) {
    report_free(reinterpret_cast<void*>(address));
    allocator.free(address);
  };
  uint64_t previous_activations = 0;
  uint64_t previous_length = 0;
  for (int step = 0; step < 40; ++step) {
    uint64_t length = 100 * kMiB + static_cast<uint64_t>(step) * 10 * kMiB;
    auto activations = take(length);
    auto scratch = activations ? take(length / 4 + kMiB) : std::nullopt;
    if (!scratch) {
      std::printf("step %d: out of memory\n", step);
      return 1;
    }
    if (previous_activations) give(previous_activations);
    give(*scratch);
    if (previous_length && !take(previous_length / 2 + kMiB)) {
      std::printf("step %d: out of memory\n", step);
      return 1;
    }
    previous_activations = *activations;
    previous_length = length;
  }
  std::printf("40 steps\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "pool_api") return pool_api(true);
  if (mode == "pool_api_full") return pool_api(false);
  if (mode == "pool_api_unmatched") return pool_api_unmatched();
  if (mode == "async_pool") return async_pool();
  if (mode == "growing_sequence") return growing_sequence();
  std::fprintf(stderr, "usage: scenario_fragmentation MODE\n");
  return 2;
}
