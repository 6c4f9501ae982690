// A program that links the driver (libcuda) directly, as Triton and many C++
// codes do, and calls the driver API: plain, pitched, managed, host-pinned,
// stream-ordered and virtual-memory allocations, then an out-of-memory.
#include <cuda.h>

#include <cstdio>
#include <cstring>
#include <string>

#undef cuGetProcAddress

extern "C" CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream stream);
extern "C" CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream);

namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kGiB = 1ull << 30;

bool check(CUresult result, const char* what) {
  if (result != CUDA_SUCCESS) std::printf("%s returned %d\n", what, result);
  return result == CUDA_SUCCESS;
}

void setup_context() {
  cuInit(0);
  CUdevice device = 0;
  cuDeviceGet(&device, 0);
  CUcontext context = nullptr;
  cuDevicePrimaryCtxRetain(&context, device);
  cuCtxSetCurrent(context);
}

int every_kind() {
  CUdeviceptr plain = 0, pitched = 0, managed = 0, async_a = 0, async_b = 0;
  size_t pitch = 0;
  void* host = nullptr;
  void* host2 = nullptr;
  check(cuMemAlloc(&plain, 64 * kMiB), "cuMemAlloc");
  check(cuMemAllocPitch(&pitched, &pitch, 1000, 100, 4), "cuMemAllocPitch");
  check(cuMemAllocManaged(&managed, 16 * kMiB, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
  check(cuMemAllocHost(&host, 8 * kMiB), "cuMemAllocHost");
  check(cuMemHostAlloc(&host2, 8 * kMiB, 0), "cuMemHostAlloc");
  check(cuMemAllocAsync(&async_a, 10 * kMiB, nullptr), "cuMemAllocAsync");
  check(cuMemAllocAsync_ptsz(&async_b, 10 * kMiB, nullptr), "cuMemAllocAsync_ptsz");
  check(cuMemFreeAsync(async_a, nullptr), "cuMemFreeAsync");
  check(cuMemFreeAsync_ptsz(async_b, nullptr), "cuMemFreeAsync_ptsz");
  check(cuMemFreeHost(host2), "cuMemFreeHost");

  // Expandable-segments style: reserve addresses, then back them page by page.
  CUdeviceptr range = 0;
  check(cuMemAddressReserve(&range, 1 * kGiB, 0, 0, 0), "cuMemAddressReserve");
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  CUmemGenericAllocationHandle pages[3] = {};
  for (int i = 0; i < 3; ++i) {
    check(cuMemCreate(&pages[i], 20 * kMiB, &prop, 0), "cuMemCreate");
    check(cuMemMap(range + i * 20 * kMiB, 20 * kMiB, 0, pages[i], 0), "cuMemMap");
  }
  check(cuMemUnmap(range + 2 * 20 * kMiB, 20 * kMiB), "cuMemUnmap");
  check(cuMemRelease(pages[2]), "cuMemRelease");

  CUmemGenericAllocationHandle too_big = 0;
  CUresult result = cuMemCreate(&too_big, 64 * kGiB, &prop, 0);
  std::printf("oversized cuMemCreate: %d\n", result);
  CUdeviceptr huge = 0;
  result = cuMemAlloc(&huge, 64 * kGiB);
  std::printf("oversized cuMemAlloc: %d\n", result);
  check(cuMemFree(plain), "cuMemFree");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  setup_context();
  if (mode == "every_kind") return every_kind();
  std::fprintf(stderr, "usage: scenario_driver every_kind\n");
  return 2;
}
