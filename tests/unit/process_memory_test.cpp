// The memory model the report replays: what counts against a GPU and what
// is kept apart.
#include <catch2/catch.hpp>

#include "allocator/process_memory.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;

namespace {

Event alloc(Api api, int device, uint64_t address, uint64_t size) {
  Event e;
  e.type = EventType::Alloc;
  e.api = api;
  e.device = static_cast<int16_t>(device);
  e.address = address;
  e.size = size;
  return e;
}

Event release(Api api, int device, uint64_t address, uint64_t size = 0) {
  Event e = alloc(api, device, address, size);
  e.type = EventType::Free;
  return e;
}

Event map(int device, uint64_t address, uint64_t size, uint64_t handle) {
  Event e = alloc(Api::cuMemMap, device, address, size);
  e.handle = handle;
  return e;
}

}  // namespace

TEST_CASE("allocations and frees are counted per device", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMalloc, 0, 0x1000, 3 * MiB));
  memory.apply(alloc(Api::cuMemAlloc_v2, 0, 0x2000, 1 * MiB));
  memory.apply(alloc(Api::cudaMalloc, 1, 0x3000, 5 * MiB));

  CHECK(memory.device(0).reserved_bytes == 4 * MiB);
  CHECK(memory.device(0).segment_count == 2);
  CHECK(memory.device(1).reserved_bytes == 5 * MiB);
  CHECK(memory.devices() == std::vector<int>{0, 1});

  memory.apply(release(Api::cudaFree, 0, 0x1000));
  CHECK(memory.device(0).reserved_bytes == 1 * MiB);
  CHECK(memory.device(0).segment_count == 1);
  CHECK(memory.device(0).peak_reserved_bytes == 4 * MiB);
  CHECK(memory.totals().allocations == 3);
  CHECK(memory.totals().frees == 1);

  std::vector<LiveAllocation> live = memory.live_on_device(0);
  REQUIRE(live.size() == 1);
  CHECK(live[0].address == 0x2000);
}

TEST_CASE("peak reserved remembers the high-water mark", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMalloc, 0, 0x1000, 2 * GiB));
  memory.apply(alloc(Api::cudaMalloc, 0, 0x2000, 1 * GiB));
  memory.apply(release(Api::cudaFree, 0, 0x1000));
  memory.apply(alloc(Api::cudaMalloc, 0, 0x3000, 1 * GiB));
  CHECK(memory.device(0).reserved_bytes == 2 * GiB);
  CHECK(memory.device(0).peak_reserved_bytes == 3 * GiB);
}

TEST_CASE("host-pinned memory is kept apart from the GPUs", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMallocHost, 0, 0x1000, 64 * MiB));
  memory.apply(alloc(Api::cuMemHostAlloc, -1, 0x2000, 32 * MiB));
  CHECK(memory.host_pinned_bytes() == 96 * MiB);
  CHECK(memory.device(0).reserved_bytes == 0);
  memory.apply(release(Api::cudaFreeHost, -1, 0x1000));
  CHECK(memory.host_pinned_bytes() == 32 * MiB);
  CHECK(memory.peak_host_pinned_bytes() == 96 * MiB);
  CHECK(memory.live_on_device(0).empty());
}

TEST_CASE("managed memory is not counted as reserved", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMallocManaged, 0, 0x1000, 1 * GiB));
  CHECK(memory.device(0).reserved_bytes == 0);
  CHECK(memory.device(0).managed_bytes == 1 * GiB);
  CHECK(memory.live_on_device(0).empty());
  memory.apply(release(Api::cudaFree, 0, 0x1000));
  CHECK(memory.device(0).managed_bytes == 0);
  CHECK(memory.totals().frees == 1);
}

TEST_CASE("virtual memory management: create, map, unmap, release", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cuMemAddressReserve, -1, 0x7000000, 8 * GiB));
  memory.apply(alloc(Api::cuMemCreate, 0, /*handle=*/11, 2 * GiB));
  memory.apply(alloc(Api::cuMemCreate, 0, /*handle=*/12, 2 * GiB));
  CHECK(memory.device(0).reserved_bytes == 4 * GiB);
  CHECK(memory.device(0).physical_handle_bytes == 4 * GiB);
  CHECK(memory.device(0).segment_count == 2);

  memory.apply(map(-1, 0x7000000, 2 * GiB, 11));
  memory.apply(map(-1, 0x7000000 + 2 * GiB, 2 * GiB, 12));
  CHECK(memory.device(0).mapped_bytes == 4 * GiB);
  CHECK(memory.device(0).reserved_bytes == 4 * GiB);  // mapping adds no memory

  // One unmap may cover both mappings.
  memory.apply(release(Api::cuMemUnmap, -1, 0x7000000, 4 * GiB));
  CHECK(memory.device(0).mapped_bytes == 0);
  CHECK(memory.device(0).reserved_bytes == 4 * GiB);  // the handles still hold it

  memory.apply(release(Api::cuMemRelease, 0, 11));
  CHECK(memory.device(0).reserved_bytes == 2 * GiB);
  CHECK(memory.device(0).physical_handle_bytes == 2 * GiB);
  memory.apply(release(Api::cuMemRelease, 0, 12));
  memory.apply(release(Api::cuMemAddressFree, -1, 0x7000000));
  CHECK(memory.device(0).reserved_bytes == 0);
  CHECK(memory.device(0).peak_reserved_bytes == 4 * GiB);
  CHECK(memory.totals().unmatched_frees == 0);
}

TEST_CASE("frees of memory the trace never saw are counted apart", "[model]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMalloc, 0, 0x1000, 1 * MiB));
  memory.apply(release(Api::cudaFree, 0, 0xdead));
  memory.apply(release(Api::cuMemRelease, 0, 99));
  CHECK(memory.totals().unmatched_frees == 2);
  CHECK(memory.totals().frees == 0);
  CHECK(memory.device(0).reserved_bytes == 1 * MiB);
}

TEST_CASE("failed allocations are counted and hold nothing", "[model]") {
  ProcessMemory memory;
  Event failed = alloc(Api::cudaMalloc, 2, 0, 8 * GiB);
  failed.type = EventType::AllocFailed;
  memory.apply(failed);
  CHECK(memory.totals().failed_allocations == 1);
  CHECK(memory.totals().allocations == 0);
  CHECK(memory.device(2).reserved_bytes == 0);
  CHECK(memory.devices() == std::vector<int>{2});
}

namespace {

Event pool_alloc(uint64_t address, uint64_t size) {
  return alloc(Api::oomtrace_pool_alloc, kHostDevice, address, size);
}

Event pool_free(uint64_t address) { return release(Api::oomtrace_pool_free, kHostDevice, address); }

}  // namespace

TEST_CASE("pool blocks land in the segment that contains them", "[model][blocks]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMalloc, 0, 0x10000000, 1 * GiB));
  memory.apply(alloc(Api::cudaMalloc, 1, 0x90000000, 1 * GiB));
  CHECK(memory.device_containing(0x10000000 + 5 * MiB) == 0);
  CHECK(memory.device_containing(0x90000000 + 1 * GiB - 1) == 1);
  CHECK(memory.device_containing(0x90000000 + 1 * GiB) == kHostDevice);

  // The event's device is not trusted: the model finds the segment itself.
  for (uint64_t i = 0; i < 4; ++i) memory.apply(pool_alloc(0x10000000 + i * 256 * MiB, 256 * MiB));
  memory.apply(pool_free(0x10000000));
  memory.apply(pool_free(0x10000000 + 2 * 256 * MiB));
  BlockFigures figures = memory.block_figures(0);
  CHECK(figures.reserved_bytes == 1 * GiB);
  CHECK(figures.allocated_bytes == 512 * MiB);
  CHECK(figures.largest_free_block_bytes == 256 * MiB);
  CHECK(figures.fragmentation == 0.5);
  CHECK(memory.block_figures(1).opaque_segments == 1);
  CHECK(memory.block_figures(1).allocated_bytes == 1 * GiB);
  CHECK(memory.totals().pool_allocations == 4);
  CHECK(memory.totals().pool_frees == 2);
  // Pool calls are not CUDA calls.
  CHECK(memory.totals().allocations == 2);
  CHECK(memory.totals().frees == 0);
  CHECK(memory.device(0).reserved_bytes == 1 * GiB);
}

TEST_CASE("pool calls on memory no segment holds are counted as unmatched", "[model][blocks]") {
  ProcessMemory memory;
  memory.apply(pool_alloc(0x5000, 4096));  // before any segment
  memory.apply(alloc(Api::cudaMalloc, 0, 0x10000000, 64 * MiB));
  memory.apply(alloc(Api::cudaMallocHost, 0, 0x20000000, 64 * MiB));
  memory.apply(alloc(Api::cudaMallocManaged, 0, 0x30000000, 64 * MiB));
  memory.apply(pool_alloc(0x20000000, 4096));                // host-pinned memory
  memory.apply(pool_alloc(0x30000000, 4096));                // unified memory
  memory.apply(pool_alloc(0x10000000 + 60 * MiB, 8 * MiB));  // runs past the segment
  memory.apply(pool_free(0x10000000));                       // never reported
  memory.apply(pool_free(0xdead));
  CHECK(memory.totals().unmatched_pool_calls == 6);
  CHECK(memory.totals().pool_allocations == 0);
  CHECK(memory.block_figures(0).allocated_bytes == 64 * MiB);
}

TEST_CASE("freeing a segment drops the blocks still live inside it", "[model][blocks]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMalloc, 0, 0x10000000, 1 * GiB));
  memory.apply(pool_alloc(0x10000000, 256 * MiB));
  memory.apply(pool_alloc(0x10000000 + 512 * MiB, 256 * MiB));
  memory.apply(release(Api::cudaFree, 0, 0x10000000));
  BlockFigures figures = memory.block_figures(0);
  CHECK(figures.reserved_bytes == 0);
  CHECK(figures.cached_free_bytes == 0);
  CHECK(figures.live_blocks == 0);
  CHECK(figures.sub_allocated_segments == 0);

  // The same address handed out again is a new, opaque segment.
  memory.apply(alloc(Api::cudaMalloc, 0, 0x10000000, 512 * MiB));
  memory.apply(pool_free(0x10000000));
  CHECK(memory.totals().unmatched_pool_calls == 1);
  CHECK(memory.block_figures(0).allocated_bytes == 512 * MiB);
}

TEST_CASE("pool blocks inside mapped ranges belong to the handle's device", "[model][blocks]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cuMemAddressReserve, -1, 0x70000000, 4 * GiB));
  memory.apply(alloc(Api::cuMemCreate, 1, /*handle=*/11, 2 * GiB));
  memory.apply(map(-1, 0x70000000, 2 * GiB, 11));
  memory.apply(pool_alloc(0x70000000, 512 * MiB));
  CHECK(memory.device_containing(0x70000000 + 1 * GiB) == 1);
  CHECK(memory.block_figures(1).cached_free_bytes == 1536 * MiB);
  CHECK(memory.block_figures(1).allocated_bytes == 512 * MiB);

  memory.apply(release(Api::cuMemUnmap, -1, 0x70000000, 2 * GiB));
  CHECK(memory.block_figures(1).cached_free_bytes == 0);
  CHECK(memory.block_figures(1).allocated_bytes == 2 * GiB);  // the handle, opaque again
}

TEST_CASE("stream-ordered blocks are segments like any other", "[model][blocks]") {
  ProcessMemory memory;
  memory.apply(alloc(Api::cudaMallocAsync, 0, 0x10000000, 64 * MiB));
  memory.apply(pool_alloc(0x10000000 + 32 * MiB, 16 * MiB));
  CHECK(memory.block_figures(0).allocated_bytes == 16 * MiB);
  CHECK(memory.free_histogram(0).size() == 2);  // 32 MiB before, 16 MiB after
  memory.apply(release(Api::cudaFreeAsync, 0, 0x10000000));
  CHECK(memory.free_histogram(0).empty());
}
