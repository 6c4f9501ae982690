// Fake driver: cuGetProcAddress version, flag and status semantics.
#include <catch2/catch.hpp>

#include <string>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

namespace {

struct Lookup {
  CUresult result;
  void* function;
  CUdriverProcAddressQueryResult status;
};

Lookup look_up(const char* symbol, int version, cuuint64_t flags = CU_GET_PROC_ADDRESS_DEFAULT) {
  Lookup lookup{CUDA_ERROR_UNKNOWN, reinterpret_cast<void*>(0x1), CU_GET_PROC_ADDRESS_SUCCESS};
  lookup.result = cuGetProcAddress(symbol, &lookup.function, version, flags, &lookup.status);
  return lookup;
}

// The lookup succeeded and returned exactly the exported `expected` symbol.
void check_resolves_to(const char* symbol, int version, cuuint64_t flags, const char* expected) {
  INFO(symbol << " @" << version << " flags " << flags << " -> " << expected);
  const Lookup lookup = look_up(symbol, version, flags);
  CHECK(lookup.result == CUDA_SUCCESS);
  CHECK(lookup.status == CU_GET_PROC_ADDRESS_SUCCESS);
  REQUIRE(driver_symbol(expected) != nullptr);
  CHECK(lookup.function == driver_symbol(expected));
}

constexpr cuuint64_t kDefault = CU_GET_PROC_ADDRESS_DEFAULT;
constexpr cuuint64_t kLegacy = CU_GET_PROC_ADDRESS_LEGACY_STREAM;
constexpr cuuint64_t kPerThread = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;

}  // namespace

TEST_CASE("cuGetProcAddress picks the variant for the caller's CUDA version", "[proc_address]") {
  check_resolves_to("cuMemAlloc", 3000, kDefault, "cuMemAlloc");
  check_resolves_to("cuMemAlloc", 3020, kDefault, "cuMemAlloc_v2");
  check_resolves_to("cuMemAlloc", 13000, kDefault, "cuMemAlloc_v2");
  check_resolves_to("cuMemFree", 3010, kDefault, "cuMemFree");
  check_resolves_to("cuMemFree", 12000, kDefault, "cuMemFree_v2");
  check_resolves_to("cuMemAllocPitch", 3020, kDefault, "cuMemAllocPitch_v2");
  check_resolves_to("cuMemAllocHost", 3020, kDefault, "cuMemAllocHost_v2");
  check_resolves_to("cuMemGetInfo", 2000, kDefault, "cuMemGetInfo");
  check_resolves_to("cuMemGetInfo", 3020, kDefault, "cuMemGetInfo_v2");
  check_resolves_to("cuDeviceTotalMem", 3020, kDefault, "cuDeviceTotalMem_v2");
  check_resolves_to("cuCtxPushCurrent", 3020, kDefault, "cuCtxPushCurrent");
  check_resolves_to("cuCtxPushCurrent", 4000, kDefault, "cuCtxPushCurrent_v2");
  check_resolves_to("cuCtxPopCurrent", 4000, kDefault, "cuCtxPopCurrent_v2");
  check_resolves_to("cuDevicePrimaryCtxRelease", 10020, kDefault, "cuDevicePrimaryCtxRelease");
  check_resolves_to("cuDevicePrimaryCtxRelease", 11000, kDefault, "cuDevicePrimaryCtxRelease_v2");
  check_resolves_to("cuStreamDestroy", 4000, kDefault, "cuStreamDestroy_v2");
  check_resolves_to("cuCtxGetDevice", 12080, kDefault, "cuCtxGetDevice");
  check_resolves_to("cuCtxGetDevice", 13000, kDefault, "cuCtxGetDevice_v2");
  check_resolves_to("cuCtxSynchronize", 13000, kDefault, "cuCtxSynchronize_v2");
  check_resolves_to("cuGetProcAddress", 11030, kDefault, "cuGetProcAddress");
  check_resolves_to("cuGetProcAddress", 12000, kDefault, "cuGetProcAddress_v2");
  check_resolves_to("cuMemCreate", 10020, kDefault, "cuMemCreate");
  check_resolves_to("cuMemPoolTrimTo", 11020, kDefault, "cuMemPoolTrimTo");
}

TEST_CASE("cuGetProcAddress returns _ptsz variants only for per-thread lookups", "[proc_address]") {
  check_resolves_to("cuMemAllocAsync", 11020, kDefault, "cuMemAllocAsync");
  check_resolves_to("cuMemAllocAsync", 11020, kLegacy, "cuMemAllocAsync");
  check_resolves_to("cuMemAllocAsync", 11020, kPerThread, "cuMemAllocAsync_ptsz");
  check_resolves_to("cuMemFreeAsync", 12000, kPerThread, "cuMemFreeAsync_ptsz");
  check_resolves_to("cuMemAllocFromPoolAsync", 13000, kPerThread, "cuMemAllocFromPoolAsync_ptsz");
  check_resolves_to("cuStreamSynchronize", 13000, kPerThread, "cuStreamSynchronize_ptsz");
  // Without a per-thread variant the legacy one is returned.
  check_resolves_to("cuMemAlloc", 13000, kPerThread, "cuMemAlloc_v2");
}

TEST_CASE("cuGetProcAddress reports unknown and too-new symbols", "[proc_address]") {
  SECTION("unknown name") {
    const Lookup lookup = look_up("cuDoesNotExist", 13000);
    CHECK(lookup.result == CUDA_ERROR_NOT_FOUND);
    CHECK(lookup.function == nullptr);
    CHECK(lookup.status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  }
  SECTION("versioned names are not base names") {
    CHECK(look_up("cuMemAlloc_v2", 13000).status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
  }
  SECTION("introduced after the requested version") {
    for (const auto& [symbol, version] : {std::pair<const char*, int>{"cuMemAllocAsync", 11010},
                                          {"cuMemCreate", 10010},
                                          {"cuGetProcAddress", 11020},
                                          {"cuMemPoolCreate", 11000}}) {
      INFO(symbol << " @" << version);
      const Lookup lookup = look_up(symbol, version);
      CHECK(lookup.result == CUDA_ERROR_NOT_FOUND);
      CHECK(lookup.function == nullptr);
      CHECK(lookup.status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    }
  }
  SECTION("bad arguments") {
    void* function = nullptr;
    CHECK(cuGetProcAddress(nullptr, &function, 13000, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuGetProcAddress("cuInit", nullptr, 13000, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
    CHECK(cuGetProcAddress("cuInit", &function, 13000, 0x100, nullptr) == CUDA_ERROR_INVALID_VALUE);
  }
}

TEST_CASE("the legacy four-argument cuGetProcAddress", "[proc_address]") {
  auto legacy = driver_function<PFN_cuGetProcAddress_v11030>("cuGetProcAddress");
  REQUIRE(legacy != nullptr);
  void* function = nullptr;
  CHECK(legacy("cuMemGetInfo", &function, 11030, 0) == CUDA_SUCCESS);
  CHECK(function == driver_symbol("cuMemGetInfo_v2"));
  CHECK(legacy("cuNothing", &function, 11030, 0) == CUDA_ERROR_NOT_FOUND);
  CHECK(function == nullptr);
}

TEST_CASE("functions from cuGetProcAddress work", "[proc_address]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "128"}});
  void* function = nullptr;
  REQUIRE(cuGetProcAddress("cuMemGetInfo", &function, 13000, 0, nullptr) == CUDA_SUCCESS);
  std::size_t free = 0, total = 0;
  CHECK(reinterpret_cast<PFN_cuMemGetInfo_v3020>(function)(&free, &total) == CUDA_SUCCESS);
  CHECK(total == 128 * kMiB);
}

TEST_CASE("every exported driver function is reachable through cuGetProcAddress", "[proc_address]") {
  // Exported name, base name, oldest version for which it is the answer, flags.
  struct Expectation {
    const char* exported;
    const char* base;
    int version;
    cuuint64_t flags;
  };
  const Expectation expectations[] = {
      {"cuInit", "cuInit", 2000, kDefault},
      {"cuDriverGetVersion", "cuDriverGetVersion", 2020, kDefault},
      {"cuDeviceGet", "cuDeviceGet", 2000, kDefault},
      {"cuDeviceGetCount", "cuDeviceGetCount", 2000, kDefault},
      {"cuDeviceGetName", "cuDeviceGetName", 2000, kDefault},
      {"cuDeviceTotalMem", "cuDeviceTotalMem", 2000, kDefault},
      {"cuDeviceGetAttribute", "cuDeviceGetAttribute", 2000, kDefault},
      {"cuDeviceGetPCIBusId", "cuDeviceGetPCIBusId", 4010, kDefault},
      {"cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", 7000, kDefault},
      {"cuCtxSetCurrent", "cuCtxSetCurrent", 4000, kDefault},
      {"cuCtxGetCurrent", "cuCtxGetCurrent", 4000, kDefault},
      {"cuCtxPopCurrent", "cuCtxPopCurrent", 2000, kDefault},
      {"cuStreamDestroy", "cuStreamDestroy", 2000, kDefault},
      {"cuMemAllocManaged", "cuMemAllocManaged", 6000, kDefault},
      {"cuMemAllocHost", "cuMemAllocHost", 2000, kDefault},
      {"cuMemAllocPitch", "cuMemAllocPitch", 2000, kDefault},
      {"cuMemHostAlloc", "cuMemHostAlloc", 2020, kDefault},
      {"cuMemFreeHost", "cuMemFreeHost", 2000, kDefault},
      {"cuStreamCreate", "cuStreamCreate", 2000, kDefault},
      {"cuStreamSynchronize", "cuStreamSynchronize", 2000, kDefault},
      {"cuMemFreeAsync", "cuMemFreeAsync", 11020, kDefault},
      {"cuMemAllocFromPoolAsync", "cuMemAllocFromPoolAsync", 11020, kDefault},
      {"cuDeviceGetDefaultMemPool", "cuDeviceGetDefaultMemPool", 11020, kDefault},
      {"cuDeviceGetMemPool", "cuDeviceGetMemPool", 11020, kDefault},
      {"cuMemPoolCreate", "cuMemPoolCreate", 11020, kDefault},
      {"cuMemPoolDestroy", "cuMemPoolDestroy", 11020, kDefault},
      {"cuMemPoolSetAttribute", "cuMemPoolSetAttribute", 11020, kDefault},
      {"cuMemPoolGetAttribute", "cuMemPoolGetAttribute", 11020, kDefault},
      {"cuMemGetAllocationGranularity", "cuMemGetAllocationGranularity", 10020, kDefault},
      {"cuMemAddressReserve", "cuMemAddressReserve", 10020, kDefault},
      {"cuMemAddressFree", "cuMemAddressFree", 10020, kDefault},
      {"cuMemRelease", "cuMemRelease", 10020, kDefault},
      {"cuMemMap", "cuMemMap", 10020, kDefault},
      {"cuMemUnmap", "cuMemUnmap", 10020, kDefault},
      {"cuMemSetAccess", "cuMemSetAccess", 10020, kDefault},
      {"cuGetErrorString", "cuGetErrorString", 6000, kDefault},
      {"cuGetErrorName", "cuGetErrorName", 6000, kDefault},
      {"cuMemsetD32Async", "cuMemsetD32Async", 3020, kDefault},
      {"cuStreamWriteValue32", "cuStreamWriteValue32", 8000, kDefault},
      {"cuModuleLoadData", "cuModuleLoadData", 2000, kDefault},
      {"cuLaunchKernel", "cuLaunchKernel", 4000, kDefault},
      {"cuMemcpyDtoH_v2", "cuMemcpyDtoH", 3020, kDefault},
  };
  for (const Expectation& expectation : expectations) {
    check_resolves_to(expectation.base, expectation.version, expectation.flags, expectation.exported);
    INFO(expectation.base << " one version earlier");
    CHECK(look_up(expectation.base, expectation.version - 10, expectation.flags).status ==
          CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
  }
}
