// CUPTI's driver-API callbacks, read back as the events the preload hooks
// record: hand-built parameter structs (generated_cuda_meta.h) and results,
// as CUPTI hands them over at API enter and exit.
#include <catch2/catch.hpp>

#include <cupti.h>

#include <algorithm>
#include <set>

#include "allocator/event.h"
#include "interpose/attach/cupti_translation.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

constexpr int kOutOfMemory = CUDA_ERROR_OUT_OF_MEMORY;
constexpr int kInvalidValue = CUDA_ERROR_INVALID_VALUE;
constexpr CUdeviceptr kAddress = 0x7f00'0020'0000;
constexpr size_t kBytes = 6 << 20;
const auto kStream = reinterpret_cast<CUstream>(0x5700'0010);
const auto kPool = reinterpret_cast<CUmemoryPool>(0x9000'0020);

template <typename Params>
std::optional<DriverCall> at_exit(CUpti_driver_api_trace_cbid id, const Params& params, int result) {
  return translate_driver_call(id, ApiSite::Exit, &params, result);
}

template <typename Params>
std::optional<DriverCall> at_enter(CUpti_driver_api_trace_cbid id, const Params& params) {
  return translate_driver_call(id, ApiSite::Enter, &params, 0);
}

void check_allocation(const std::optional<DriverCall>& call, Api api, uint64_t address, uint64_t size) {
  REQUIRE(call);
  CHECK(call->kind == DriverCallKind::Allocation);
  CHECK(call->api == api);
  CHECK(call->address == address);
  CHECK(call->size == size);
  CHECK(call->result == CUDA_SUCCESS);
}

void check_failure(const std::optional<DriverCall>& call, Api api, uint64_t requested) {
  REQUIRE(call);
  CHECK(call->kind == DriverCallKind::Failure);
  CHECK(call->api == api);
  CHECK(call->size == requested);
  CHECK(call->result == kOutOfMemory);
}

void check_release(const std::optional<DriverCall>& call, Api api, uint64_t address) {
  REQUIRE(call);
  CHECK(call->kind == DriverCallKind::Release);
  CHECK(call->api == api);
  CHECK(call->address == address);
}

CUmemAllocationProp located(CUmemLocationType type, int id) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = type;
  prop.location.id = id;
  return prop;
}

}  // namespace

TEST_CASE("the ids to enable are exactly the memory functions", "[cupti]") {
  std::vector<uint32_t> ids = cupti_callback_ids();
  const std::set<uint32_t> expected = {
      CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocPitch_v2,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocManaged,
      CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocHost_v2,
      CUPTI_DRIVER_TRACE_CBID_cuMemHostAlloc,
      CUPTI_DRIVER_TRACE_CBID_cuMemFreeHost,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync_ptsz,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync,
      CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync_ptsz,
      CUPTI_DRIVER_TRACE_CBID_cuMemFreeAsync,
      CUPTI_DRIVER_TRACE_CBID_cuMemFreeAsync_ptsz,
      CUPTI_DRIVER_TRACE_CBID_cuMemCreate,
      CUPTI_DRIVER_TRACE_CBID_cuMemRelease,
      CUPTI_DRIVER_TRACE_CBID_cuMemMap,
      CUPTI_DRIVER_TRACE_CBID_cuMemUnmap,
      CUPTI_DRIVER_TRACE_CBID_cuMemAddressReserve,
      CUPTI_DRIVER_TRACE_CBID_cuMemAddressFree,
  };
  CHECK(std::set<uint32_t>(ids.begin(), ids.end()) == expected);
  CHECK(ids.size() == expected.size());  // each once
  // The numbers CUPTI assigned (field notes): a renumbered header would show here.
  CHECK(std::count(ids.begin(), ids.end(), 243u) == 1);  // cuMemAlloc_v2
  CHECK(std::count(ids.begin(), ids.end(), 549u) == 1);  // cuMemCreate
  CHECK(std::count(ids.begin(), ids.end(), 611u) == 1);  // cuMemAllocFromPoolAsync
}

TEST_CASE("device, managed and pinned allocations at API exit", "[cupti]") {
  CUdeviceptr device = kAddress;
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&device, kBytes}, 0),
                   Api::cuMemAlloc_v2, kAddress, kBytes);
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocManaged,
                           cuMemAllocManaged_params{&device, kBytes, CU_MEM_ATTACH_GLOBAL}, 0),
                   Api::cuMemAllocManaged, kAddress, kBytes);

  char pinned_memory[16];
  void* pinned = pinned_memory;
  const auto pinned_address = reinterpret_cast<uint64_t>(pinned);
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocHost_v2, cuMemAllocHost_v2_params{&pinned, kBytes}, 0),
                   Api::cuMemAllocHost_v2, pinned_address, kBytes);
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemHostAlloc,
                           cuMemHostAlloc_params{&pinned, kBytes, CU_MEMHOSTALLOC_PORTABLE}, 0),
                   Api::cuMemHostAlloc, pinned_address, kBytes);

  // Nothing names a device: the subscriber asks for the thread's current one
  // (or the host, for pinned memory), as the preload hooks do.
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&device, kBytes}, 0)->device);
}

TEST_CASE("a pitched allocation holds pitch * height and asked for width * height", "[cupti]") {
  CUdeviceptr device = kAddress;
  size_t pitch = 1024;
  const cuMemAllocPitch_v2_params params{&device, &pitch, 1000, 300, 4};
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocPitch_v2, params, 0), Api::cuMemAllocPitch_v2,
                   kAddress, 1024 * 300);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocPitch_v2, params, kOutOfMemory),
                Api::cuMemAllocPitch_v2, 1000 * 300);
}

TEST_CASE("stream-ordered allocations carry their stream and pool", "[cupti]") {
  CUdeviceptr device = kAddress;
  for (auto [id, api] : {std::pair{CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync, Api::cuMemAllocAsync},
                         std::pair{CUPTI_DRIVER_TRACE_CBID_cuMemAllocAsync_ptsz, Api::cuMemAllocAsync_ptsz}}) {
    // Both variants share one layout.
    const cuMemAllocAsync_params params{&device, kBytes, kStream};
    std::optional<DriverCall> call = at_exit(id, params, 0);
    check_allocation(call, api, kAddress, kBytes);
    CHECK(call->stream == reinterpret_cast<uint64_t>(kStream));
    std::optional<DriverCall> failure = at_exit(id, params, kOutOfMemory);
    check_failure(failure, api, kBytes);
    CHECK(failure->stream == reinterpret_cast<uint64_t>(kStream));
  }
  for (auto [id, api] :
       {std::pair{CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync, Api::cuMemAllocFromPoolAsync},
        std::pair{CUPTI_DRIVER_TRACE_CBID_cuMemAllocFromPoolAsync_ptsz, Api::cuMemAllocFromPoolAsync_ptsz}}) {
    const cuMemAllocFromPoolAsync_params params{&device, kBytes, kPool, kStream};
    std::optional<DriverCall> call = at_exit(id, params, 0);
    check_allocation(call, api, kAddress, kBytes);
    CHECK(call->stream == reinterpret_cast<uint64_t>(kStream));
    std::optional<DriverCall> failure = at_exit(id, params, kOutOfMemory);
    check_failure(failure, api, kBytes);
    CHECK(failure->pool == reinterpret_cast<uint64_t>(kPool));
    CHECK(failure->stream == reinterpret_cast<uint64_t>(kStream));
  }
}

TEST_CASE("frees are recorded at enter, before the driver has the memory back", "[cupti]") {
  char pinned_memory[16];
  const auto pinned_address = reinterpret_cast<uint64_t>(&pinned_memory[0]);
  check_release(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, cuMemFree_v2_params{kAddress}), Api::cuMemFree_v2,
                kAddress);
  check_release(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFreeHost, cuMemFreeHost_params{pinned_memory}),
                Api::cuMemFreeHost, pinned_address);
  std::optional<DriverCall> async = at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFreeAsync, cuMemFreeAsync_params{kAddress, kStream});
  check_release(async, Api::cuMemFreeAsync, kAddress);
  CHECK(async->stream == reinterpret_cast<uint64_t>(kStream));
  check_release(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFreeAsync_ptsz, cuMemFreeAsync_ptsz_params{kAddress, kStream}),
                Api::cuMemFreeAsync_ptsz, kAddress);
  check_release(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemAddressFree, cuMemAddressFree_params{kAddress, kBytes}),
                Api::cuMemAddressFree, kAddress);
  CHECK(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, cuMemFree_v2_params{kAddress})->result == 0);

  // Never again at exit, whatever the result: each free is recorded once.
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, cuMemFree_v2_params{kAddress}, 0));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, cuMemFree_v2_params{kAddress}, kInvalidValue));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemFreeAsync, cuMemFreeAsync_params{kAddress, kStream}, 0));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAddressFree, cuMemAddressFree_params{kAddress, kBytes}, 0));
  // Freeing null is a no-op, as in the preload hooks.
  CHECK_FALSE(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, cuMemFree_v2_params{0}));
  CHECK_FALSE(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemFreeHost, cuMemFreeHost_params{nullptr}));
}

TEST_CASE("allocations are recorded at exit only", "[cupti]") {
  CUdeviceptr device = kAddress;
  CHECK_FALSE(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&device, kBytes}));
  CHECK_FALSE(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemMap, cuMemMap_params{kAddress, kBytes, 0, 0x1000, 0}));
  CUmemGenericAllocationHandle handle = 0x1000;
  CHECK_FALSE(at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, cuMemCreate_params{&handle, kBytes, nullptr, 0}));
}

TEST_CASE("virtual memory: physical handles, mappings and reservations", "[cupti]") {
  CUmemGenericAllocationHandle handle = 0x1000;
  const CUmemAllocationProp on_device_2 = located(CU_MEM_LOCATION_TYPE_DEVICE, 2);
  const cuMemCreate_params create{&handle, kBytes, &on_device_2, 0};
  std::optional<DriverCall> created = at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, create, 0);
  check_allocation(created, Api::cuMemCreate, 0x1000, kBytes);  // keyed by the handle
  CHECK(created->handle == 0x1000);
  CHECK(created->device == 2);
  std::optional<DriverCall> refused = at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, create, kOutOfMemory);
  check_failure(refused, Api::cuMemCreate, kBytes);
  CHECK(refused->device == 2);

  // NCCL's host memory through cuMemCreate is not the GPU's.
  const CUmemAllocationProp on_host = located(CU_MEM_LOCATION_TYPE_HOST, 0);
  CHECK(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, cuMemCreate_params{&handle, kBytes, &on_host, 0}, 0)->device ==
        kHostDevice);
  CHECK(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, cuMemCreate_params{&handle, kBytes, nullptr, 0}, kOutOfMemory)
            ->device == kHostDevice);

  std::optional<DriverCall> released = at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemRelease, cuMemRelease_params{0x1000});
  check_release(released, Api::cuMemRelease, 0x1000);
  CHECK(released->handle == 0x1000);

  std::optional<DriverCall> mapped =
      at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemMap, cuMemMap_params{kAddress, kBytes, 0, 0x1000, 0}, 0);
  REQUIRE(mapped);
  CHECK(mapped->kind == DriverCallKind::Mapping);
  CHECK(mapped->api == Api::cuMemMap);
  CHECK(mapped->address == kAddress);
  CHECK(mapped->size == kBytes);
  CHECK(mapped->handle == 0x1000);

  std::optional<DriverCall> unmapped = at_enter(CUPTI_DRIVER_TRACE_CBID_cuMemUnmap, cuMemUnmap_params{kAddress, kBytes});
  REQUIRE(unmapped);
  CHECK(unmapped->kind == DriverCallKind::Unmapping);
  CHECK(unmapped->api == Api::cuMemUnmap);
  CHECK(unmapped->address == kAddress);
  CHECK(unmapped->size == kBytes);
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemMap, cuMemMap_params{kAddress, kBytes, 0, 0x1000, 0},
                      kInvalidValue));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemUnmap, cuMemUnmap_params{kAddress, kBytes}, 0));

  CUdeviceptr reserved = kAddress;
  const cuMemAddressReserve_params reserve{&reserved, kBytes, 0, 0, 0};
  check_allocation(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAddressReserve, reserve, 0), Api::cuMemAddressReserve,
                   kAddress, kBytes);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAddressReserve, reserve, kOutOfMemory),
                Api::cuMemAddressReserve, kBytes);
}

TEST_CASE("out of memory is a failure with the requested size", "[cupti]") {
  // The out pointer holds whatever it held before: never read at a failure.
  CUdeviceptr untouched = 0xdead'beef;
  void* untouched_host = reinterpret_cast<void*>(0xdead'beef);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&untouched, kBytes}, kOutOfMemory),
                Api::cuMemAlloc_v2, kBytes);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocManaged,
                        cuMemAllocManaged_params{&untouched, kBytes, CU_MEM_ATTACH_GLOBAL}, kOutOfMemory),
                Api::cuMemAllocManaged, kBytes);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAllocHost_v2, cuMemAllocHost_v2_params{&untouched_host, kBytes},
                        kOutOfMemory),
                Api::cuMemAllocHost_v2, kBytes);
  check_failure(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemHostAlloc, cuMemHostAlloc_params{&untouched_host, kBytes, 0},
                        kOutOfMemory),
                Api::cuMemHostAlloc, kBytes);
  CHECK(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&untouched, kBytes}, kOutOfMemory)
            ->address == 0);
}

TEST_CASE("other errors, unknown ids and missing parameters record nothing", "[cupti]") {
  CUdeviceptr device = kAddress;
  const cuMemAlloc_v2_params alloc{&device, kBytes};
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, alloc, kInvalidValue));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, alloc, CUDA_ERROR_NOT_INITIALIZED));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, alloc, CUDA_ERROR_INVALID_CONTEXT));
  CUmemGenericAllocationHandle handle = 0;
  const CUmemAllocationProp on_device_0 = located(CU_MEM_LOCATION_TYPE_DEVICE, 0);
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemCreate, cuMemCreate_params{&handle, kBytes, &on_device_0, 0},
                      CUDA_ERROR_NOT_SUPPORTED));

  // A success that returned no address is not an allocation (as after_allocation).
  CUdeviceptr none = 0;
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{&none, kBytes}, 0));
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, cuMemAlloc_v2_params{nullptr, kBytes}, 0));

  // Not a traced function: the id of cuMemGetInfo_v2, an invalid one, one past the table.
  size_t free = 0, total = 0;
  CHECK_FALSE(at_exit(CUPTI_DRIVER_TRACE_CBID_cuMemGetInfo_v2, cuMemGetInfo_v2_params{&free, &total}, 0));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_INVALID, ApiSite::Exit, &alloc, 0));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_SIZE, ApiSite::Exit, &alloc, kOutOfMemory));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_SIZE, ApiSite::Enter, &alloc, 0));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, ApiSite::Exit, nullptr, 0));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2, ApiSite::Exit, nullptr, kOutOfMemory));
  CHECK_FALSE(translate_driver_call(CUPTI_DRIVER_TRACE_CBID_cuMemFree_v2, ApiSite::Enter, nullptr, 0));
}
