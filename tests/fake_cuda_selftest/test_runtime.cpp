// Fake runtime: how it reaches the driver, contexts and devices, error
// handling, and the allocation entry points.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>
#include <link.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

extern "C" {
// Declared by cuda_runtime_api.h only in per-thread-default-stream builds.
cudaError_t CUDARTAPI cudaMallocAsync_ptsz(void** devPtr, size_t size, cudaStream_t hStream);
cudaError_t CUDARTAPI cudaFreeAsync_ptsz(void* devPtr, cudaStream_t hStream);
cudaError_t CUDARTAPI cudaGetDriverEntryPoint_ptsz(const char* symbol, void** funcPtr, unsigned long long flags,
                                                   cudaDriverEntryPointQueryResult* driverStatus);
}

namespace {

// DT_NEEDED entries of an already loaded library.
std::vector<std::string> needed_libraries(const char* soname) {
  std::vector<std::string> needed;
  void* library = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
  if (library == nullptr) return needed;
  link_map* map = nullptr;
  dlinfo(library, RTLD_DI_LINKMAP, &map);
  const char* strings = nullptr;
  for (const ElfW(Dyn)* entry = map->l_ld; entry->d_tag != DT_NULL; ++entry) {
    if (entry->d_tag == DT_STRTAB) strings = reinterpret_cast<const char*>(entry->d_un.d_ptr);
  }
  for (const ElfW(Dyn)* entry = map->l_ld; entry->d_tag != DT_NULL; ++entry) {
    if (entry->d_tag == DT_NEEDED) needed.emplace_back(strings + entry->d_un.d_val);
  }
  dlclose(library);
  return needed;
}

// Puts the calling thread back on device 0 with no stale error, since the
// runtime's per-thread state outlives each FakeMachine. Called before the
// FakeMachine is set up, whose reset then drops the context this made
// current, so the new machine starts with no context used.
void reset_runtime_thread_state() {
  cudaSetDevice(0);
  cudaGetLastError();
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // deprecated in CUDA 13, still exported
cudaError_t deprecated_entry_point(const char* symbol, void** function, cudaDriverEntryPointQueryResult* status) {
  return cudaGetDriverEntryPoint(symbol, function, cudaEnableDefault, status);
}
#pragma GCC diagnostic pop

}  // namespace

TEST_CASE("neither the runtime nor NVML links the driver", "[runtime]") {
  int count = 0;
  REQUIRE(cudaGetDeviceCount(&count) == cudaSuccess);  // makes sure the runtime is loaded and initialized
  const auto runtime_needs = needed_libraries("libcudart.so.13");
  REQUIRE_FALSE(runtime_needs.empty());
  for (const std::string& library : runtime_needs) CHECK(library.find("libcuda.") == std::string::npos);
  for (const std::string& library : needed_libraries("libnvidia-ml.so.1")) {
    CHECK(library.find("libcuda.") == std::string::npos);
  }
}

TEST_CASE("the runtime hands out driver entry points from cuGetProcAddress", "[runtime]") {
  void* function = nullptr;
  cudaDriverEntryPointQueryResult status = cudaDriverEntryPointSymbolNotFound;
  REQUIRE(deprecated_entry_point("cuMemAlloc", &function, &status) == cudaSuccess);
  CHECK(status == cudaDriverEntryPointSuccess);
  CHECK(function == driver_symbol("cuMemAlloc_v2"));

  CHECK(cudaGetDriverEntryPointByVersion("cuMemAlloc", &function, 3000, cudaEnableDefault, &status) == cudaSuccess);
  CHECK(function == driver_symbol("cuMemAlloc"));

  CHECK(cudaGetDriverEntryPointByVersion("cuMemAllocAsync", &function, 12000, cudaEnablePerThreadDefaultStream,
                                         &status) == cudaSuccess);
  CHECK(function == driver_symbol("cuMemAllocAsync_ptsz"));
  CHECK(cudaGetDriverEntryPoint_ptsz("cuMemAllocAsync", &function, cudaEnableDefault, &status) == cudaSuccess);
  CHECK(function == driver_symbol("cuMemAllocAsync_ptsz"));

  // Documented: not found is success with a null pointer and a status.
  CHECK(deprecated_entry_point("cuNoSuchThing", &function, &status) == cudaSuccess);
  CHECK(function == nullptr);
  CHECK(status == cudaDriverEntryPointSymbolNotFound);
  CHECK(cudaGetDriverEntryPointByVersion("cuMemCreate", &function, 10000, cudaEnableDefault, &status) == cudaSuccess);
  CHECK(function == nullptr);
  CHECK(status == cudaDriverEntryPointVersionNotSufficent);
}

TEST_CASE("cudaMalloc makes the primary context current and charges the device", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "1024"}, {"FAKE_CUDA_CONTEXT_MIB", "100"}});
  CHECK(fake_cuda_process_context_bytes(0) == 0);

  void* pointer = nullptr;
  REQUIRE(cudaMalloc(&pointer, 5 * kMiB) == cudaSuccess);
  CHECK(reinterpret_cast<CUdeviceptr>(pointer) == device_base(0));
  CUcontext current = nullptr;
  cuCtxGetCurrent(&current);
  CHECK(current == primary_context(0));
  CHECK(fake_cuda_process_used_bytes(0) == 6 * kMiB);
  CHECK(fake_cuda_process_context_bytes(0) == 100 * kMiB);

  std::size_t free = 0, total = 0;
  REQUIRE(cudaMemGetInfo(&free, &total) == cudaSuccess);
  CHECK(total == 1024 * kMiB);
  CHECK(free == (1024 - 100 - 6) * kMiB);

  CHECK(cudaFree(pointer) == cudaSuccess);
  CHECK(cudaFree(nullptr) == cudaSuccess);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
}

TEST_CASE("runtime errors are mapped and remembered per thread", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});

  void* untouched = reinterpret_cast<void*>(0x1234);
  CHECK(cudaMalloc(&untouched, 65 * kMiB) == cudaErrorMemoryAllocation);
  CHECK(untouched == reinterpret_cast<void*>(0x1234));
  CHECK(cudaPeekAtLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaPeekAtLastError() == cudaErrorMemoryAllocation);

  cudaError_t seen_by_other_thread = cudaErrorUnknown;
  std::thread other([&] { seen_by_other_thread = cudaGetLastError(); });
  other.join();
  CHECK(seen_by_other_thread == cudaSuccess);

  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaSuccess);

  CHECK(cudaFree(reinterpret_cast<void*>(0x1234)) == cudaErrorInvalidValue);
  CHECK(cudaSetDevice(7) == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);

  CHECK(std::string(cudaGetErrorName(cudaErrorMemoryAllocation)) == "cudaErrorMemoryAllocation");
  CHECK(std::string(cudaGetErrorString(cudaErrorMemoryAllocation)) == "out of memory");
  CHECK(std::string(cudaGetErrorName(static_cast<cudaError_t>(77777))) == "unrecognized error code");
}

TEST_CASE("the current device is per thread", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}, {"FAKE_CUDA_TOTAL_MIB", "64"}});
  int count = 0;
  REQUIRE(cudaGetDeviceCount(&count) == cudaSuccess);
  CHECK(count == 2);

  void* on_device1 = nullptr;
  int device_seen_by_other_thread = -1;
  std::thread other([&] {
    cudaSetDevice(1);
    cudaGetDevice(&device_seen_by_other_thread);
    cudaMalloc(&on_device1, 3 * kMiB);
  });
  other.join();
  CHECK(device_seen_by_other_thread == 1);
  CHECK(reinterpret_cast<CUdeviceptr>(on_device1) == device_base(1));
  CHECK(fake_cuda_process_used_bytes(1) == 4 * kMiB);

  int device = -1;
  CHECK(cudaGetDevice(&device) == cudaSuccess);
  CHECK(device == 0);
  void* on_device0 = nullptr;
  REQUIRE(cudaMalloc(&on_device0, kMiB) == cudaSuccess);
  CHECK(reinterpret_cast<CUdeviceptr>(on_device0) == device_base(0));
  CHECK(fake_cuda_process_used_bytes(0) == 2 * kMiB);

  CHECK(cudaFree(on_device1) == cudaSuccess);  // freeing works from any device
  CHECK(fake_cuda_process_used_bytes(1) == 0);
}

TEST_CASE("a context set through the driver decides the runtime's device", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}});
  REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);
  int device = -1;
  CHECK(cudaGetDevice(&device) == cudaSuccess);
  CHECK(device == 1);
  void* pointer = nullptr;
  REQUIRE(cudaMalloc(&pointer, kMiB) == cudaSuccess);
  CHECK(reinterpret_cast<CUdeviceptr>(pointer) == device_base(1));
}

TEST_CASE("pitched and 3D allocations through the runtime", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  void* pointer = nullptr;
  std::size_t pitch = 0;
  REQUIRE(cudaMallocPitch(&pointer, &pitch, 100, 10) == cudaSuccess);
  CHECK(pitch == 512);
  CHECK(fake_cuda_process_used_bytes(0) == 2 * kMiB);
  CHECK(cudaFree(pointer) == cudaSuccess);

  cudaPitchedPtr pitched{};
  REQUIRE(cudaMalloc3D(&pitched, cudaExtent{700, 1024, 3}) == cudaSuccess);  // 1024 * 1024 * 3 bytes
  CHECK(pitched.pitch == 1024);
  CHECK(pitched.xsize == 700);
  CHECK(pitched.ysize == 1024);
  CHECK(pitched.ptr != nullptr);
  CHECK(fake_cuda_process_used_bytes(0) == 4 * kMiB);
  CHECK(cudaFree(pitched.ptr) == cudaSuccess);
}

TEST_CASE("managed and pinned host memory through the runtime", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  void* managed = nullptr;
  REQUIRE(cudaMallocManaged(&managed, 4 * kMiB, cudaMemAttachGlobal) == cudaSuccess);
  std::memset(managed, 7, 4 * kMiB);
  void* pinned = nullptr;
  void* mapped = nullptr;
  REQUIRE(cudaMallocHost(&pinned, kMiB) == cudaSuccess);
  REQUIRE(cudaHostAlloc(&mapped, kMiB, cudaHostAllocMapped) == cudaSuccess);
  std::memset(pinned, 1, kMiB);
  std::memset(mapped, 2, kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(cudaFree(managed) == cudaSuccess);
  CHECK(cudaFreeHost(pinned) == cudaSuccess);
  CHECK(cudaFreeHost(mapped) == cudaSuccess);
  CHECK(cudaFreeHost(mapped) == cudaErrorInvalidValue);
}

TEST_CASE("streams and stream-ordered allocation through the runtime", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);

  void* first = nullptr;
  void* second = nullptr;
  REQUIRE(cudaMallocAsync(&first, 3 * kMiB, stream) == cudaSuccess);
  REQUIRE(cudaMallocAsync_ptsz(&second, kMiB, cudaStreamPerThread) == cudaSuccess);
  CHECK(fake_cuda_process_used_bytes(0) == 6 * kMiB);

  cudaMemPool_t pool = nullptr;
  REQUIRE(cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess);
  cuuint64_t used = 0;
  REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used) == cudaSuccess);
  CHECK(used == 6 * kMiB);

  CHECK(cudaFreeAsync(first, stream) == cudaSuccess);
  CHECK(cudaFreeAsync_ptsz(second, cudaStreamPerThread) == cudaSuccess);
  CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
  CHECK(fake_cuda_process_used_bytes(0) == 0);

  void* too_big = nullptr;
  CHECK(cudaMallocAsync(&too_big, 65 * kMiB, stream) == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);

  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaErrorInvalidResourceHandle);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  cudaGetLastError();
}

TEST_CASE("explicit pools through the runtime", "[runtime]") {
  reset_runtime_thread_state();
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  cudaMemPool_t pool = nullptr;
  REQUIRE(cudaMemPoolCreate(&pool, &props) == cudaSuccess);

  cuuint64_t threshold = 64 * kMiB;
  REQUIRE(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold) == cudaSuccess);
  void* pointer = nullptr;
  REQUIRE(cudaMallocFromPoolAsync(&pointer, 5 * kMiB, pool, nullptr) == cudaSuccess);
  REQUIRE(cudaFreeAsync(pointer, nullptr) == cudaSuccess);
  cuuint64_t reserved = 0;
  REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved) == cudaSuccess);
  CHECK(reserved == 6 * kMiB);  // kept cached below the threshold
  REQUIRE(cudaMemPoolTrimTo(pool, 0) == cudaSuccess);
  REQUIRE(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved) == cudaSuccess);
  CHECK(reserved == 0);
  CHECK(cudaMemPoolDestroy(pool) == cudaSuccess);
}
