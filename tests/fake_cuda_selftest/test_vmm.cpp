// Fake driver: virtual memory management accounting.
#include <catch2/catch.hpp>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

namespace {

CUmemAllocationProp device_prop(int device) {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = device;
  return prop;
}

CUmemAccessDesc read_write_on(int device) {
  CUmemAccessDesc access{};
  access.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  access.location.id = device;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  return access;
}

}  // namespace

TEST_CASE("allocation granularity is 2 MiB", "[vmm]") {
  FakeMachine machine;
  const CUmemAllocationProp prop = device_prop(0);
  std::size_t granularity = 0;
  CHECK(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM) == CUDA_SUCCESS);
  CHECK(granularity == 2 * kMiB);
  CHECK(cuMemGetAllocationGranularity(&granularity, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) == CUDA_SUCCESS);
  CHECK(granularity == 2 * kMiB);
  const CUmemAllocationProp missing = device_prop(5);
  CHECK(cuMemGetAllocationGranularity(&granularity, &missing, CU_MEM_ALLOC_GRANULARITY_MINIMUM) ==
        CUDA_ERROR_INVALID_DEVICE);
}

TEST_CASE("reserve, create, map, unmap and release", "[vmm]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr range = 0;
  REQUIRE(cuMemAddressReserve(&range, 16 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  CHECK(range % (2 * kMiB) == 0);
  CHECK(range >= device_base(16));  // its own window, after every device's
  CHECK(fake_cuda_process_used_bytes(0) == 0);  // address space only

  const CUmemAllocationProp prop = device_prop(0);
  CUmemGenericAllocationHandle handle = 0;
  REQUIRE(cuMemCreate(&handle, 8 * kMiB, &prop, 0) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 8 * kMiB);
  CHECK(free_bytes() == 56 * kMiB);

  REQUIRE(cuMemMap(range, 8 * kMiB, 0, handle, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemMap(range + 8 * kMiB, 8 * kMiB, 0, handle, 0) == CUDA_SUCCESS);  // mapped twice
  const CUmemAccessDesc access = read_write_on(0);
  CHECK(cuMemSetAccess(range, 16 * kMiB, &access, 1) == CUDA_SUCCESS);

  // Released but still mapped: the memory stays held, as documented.
  REQUIRE(cuMemRelease(handle) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 8 * kMiB);
  CHECK(cuMemMap(range, 2 * kMiB, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // handle is gone

  CHECK(cuMemAddressFree(range, 16 * kMiB) == CUDA_ERROR_INVALID_VALUE);  // still mapped
  REQUIRE(cuMemUnmap(range, 8 * kMiB) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 8 * kMiB);
  REQUIRE(cuMemUnmap(range + 8 * kMiB, 8 * kMiB) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(free_bytes() == 64 * kMiB);

  CHECK(cuMemAddressFree(range, 8 * kMiB) == CUDA_ERROR_INVALID_VALUE);  // size must match
  CHECK(cuMemAddressFree(range, 16 * kMiB) == CUDA_SUCCESS);
}

TEST_CASE("unmapping several adjacent mappings at once", "[vmm]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr range = 0;
  REQUIRE(cuMemAddressReserve(&range, 8 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  const CUmemAllocationProp prop = device_prop(0);
  CUmemGenericAllocationHandle first = 0, second = 0;
  REQUIRE(cuMemCreate(&first, 4 * kMiB, &prop, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemCreate(&second, 4 * kMiB, &prop, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemMap(range, 4 * kMiB, 0, first, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemMap(range + 4 * kMiB, 4 * kMiB, 0, second, 0) == CUDA_SUCCESS);
  CHECK(cuMemRelease(first) == CUDA_SUCCESS);
  CHECK(cuMemRelease(second) == CUDA_SUCCESS);
  CHECK(cuMemRelease(second) == CUDA_ERROR_INVALID_VALUE);  // twice

  CHECK(cuMemUnmap(range, 2 * kMiB) == CUDA_ERROR_INVALID_VALUE);  // not a whole mapping
  CHECK(cuMemUnmap(range, 8 * kMiB) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(cuMemAddressFree(range, 8 * kMiB) == CUDA_SUCCESS);
}

TEST_CASE("VMM arguments are validated", "[vmm]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  const CUmemAllocationProp prop = device_prop(0);
  CUmemGenericAllocationHandle handle = 0;
  CHECK(cuMemCreate(&handle, 3 * kMiB, &prop, 0) == CUDA_ERROR_INVALID_VALUE);  // not a granularity multiple
  CHECK(cuMemCreate(&handle, 66 * kMiB, &prop, 0) == CUDA_ERROR_OUT_OF_MEMORY);
  const CUmemAllocationProp missing = device_prop(2);
  CHECK(cuMemCreate(&handle, 2 * kMiB, &missing, 0) == CUDA_ERROR_INVALID_DEVICE);

  CUdeviceptr range = 0;
  CHECK(cuMemAddressReserve(&range, 4 * kMiB, 3, 0, 0) == CUDA_ERROR_INVALID_VALUE);  // alignment not a power of 2
  REQUIRE(cuMemAddressReserve(&range, 4 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemCreate(&handle, 2 * kMiB, &prop, 0) == CUDA_SUCCESS);
  CHECK(cuMemMap(range, 4 * kMiB, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);            // larger than the handle
  CHECK(cuMemMap(range + 4 * kMiB, 2 * kMiB, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // outside the reservation
  CHECK(cuMemMap(range, 2 * kMiB, 0, 0x777777, 0) == CUDA_ERROR_INVALID_VALUE);          // unknown handle
  CHECK(cuMemMap(range, 2 * kMiB, 2 * kMiB, handle, 0) == CUDA_ERROR_INVALID_VALUE);     // offset must be 0
  REQUIRE(cuMemMap(range, 2 * kMiB, 0, handle, 0) == CUDA_SUCCESS);
  CHECK(cuMemMap(range, 2 * kMiB, 0, handle, 0) == CUDA_ERROR_INVALID_VALUE);  // already mapped there

  const CUmemAccessDesc access = read_write_on(0);
  CHECK(cuMemSetAccess(range, 4 * kMiB, &access, 1) == CUDA_ERROR_INVALID_VALUE);  // half of it unmapped
  CHECK(cuMemSetAccess(range, 2 * kMiB, &access, 1) == CUDA_SUCCESS);
  const CUmemAccessDesc elsewhere = read_write_on(9);
  CHECK(cuMemSetAccess(range, 2 * kMiB, &elsewhere, 1) == CUDA_ERROR_INVALID_DEVICE);

  CHECK(cuMemUnmap(range, 2 * kMiB) == CUDA_SUCCESS);
  CHECK(cuMemRelease(handle) == CUDA_SUCCESS);
  CHECK(cuMemAddressFree(range, 4 * kMiB) == CUDA_SUCCESS);
}

TEST_CASE("host-located VMM memory uses no device capacity", "[vmm]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_HOST;
  CUmemGenericAllocationHandle handle = 0;
  REQUIRE(cuMemCreate(&handle, 128 * kMiB, &prop, 0) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(cuMemRelease(handle) == CUDA_SUCCESS);
}

TEST_CASE("reservation addresses honour hints and are reused", "[vmm]") {
  FakeMachine machine;
  CUdeviceptr first = 0, second = 0, hinted = 0;
  REQUIRE(cuMemAddressReserve(&first, 2 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemAddressReserve(&second, 2 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  CHECK(second == first + 2 * kMiB);
  const CUdeviceptr wanted = first + 64 * kMiB;
  REQUIRE(cuMemAddressReserve(&hinted, 2 * kMiB, 0, wanted, 0) == CUDA_SUCCESS);
  CHECK(hinted == wanted);
  REQUIRE(cuMemAddressFree(first, 2 * kMiB) == CUDA_SUCCESS);
  CUdeviceptr again = 0;
  REQUIRE(cuMemAddressReserve(&again, 2 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  CHECK(again == first);
}
