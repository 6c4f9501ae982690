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
