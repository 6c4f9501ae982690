// A program that links no CUDA library and reaches the driver only through
// lookups, the way NVIDIA's statically linked cudart (nvcc's default), older
// PyTorch and Triton do:
//   cuGetProcAddress_v2  dlopen(libcuda.so.1) + dlsym("cuGetProcAddress_v2"),
//                        then every function by base name and ABI version
//   cuGetProcAddress     the 4-argument legacy resolver, also asked for itself
//   dlsym                dlsym(handle, "cuMemAlloc_v2") on the driver's handle
#include <cuda.h>
#include <dlfcn.h>

#include <cstdio>
#include <string>

#undef cuGetProcAddress

namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kGiB = 1ull << 30;

using GetProcV2 = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
using GetProcLegacy = CUresult (*)(const char*, void**, int, cuuint64_t);
using MemAlloc = CUresult (*)(CUdeviceptr*, size_t);
using MemFree = CUresult (*)(CUdeviceptr);
using MemAllocAsync = CUresult (*)(CUdeviceptr*, size_t, CUstream);

void* driver() {
  static void* handle = dlopen("libcuda.so.1", RTLD_NOW);  // local scope, as cudart does
  if (!handle) {
    std::fprintf(stderr, "cannot load libcuda.so.1: %s\n", dlerror());
    std::exit(91);
  }
  return handle;
}

template <typename Function>
Function lookup_v2(GetProcV2 get, const char* name, int version, cuuint64_t flags = 0) {
  void* pfn = nullptr;
  CUdriverProcAddressQueryResult status{};
  CUresult result = get(name, &pfn, version, flags, &status);
  if (result != CUDA_SUCCESS || !pfn) {
    std::fprintf(stderr, "lookup of %s@%d failed: %d\n", name, version, result);
    std::exit(92);
  }
  return reinterpret_cast<Function>(pfn);
}

void init_context(GetProcV2 get) {
  auto init = lookup_v2<CUresult (*)(unsigned)>(get, "cuInit", 2000);
  auto device_get = lookup_v2<CUresult (*)(CUdevice*, int)>(get, "cuDeviceGet", 2000);
  auto retain = lookup_v2<CUresult (*)(CUcontext*, CUdevice)>(get, "cuDevicePrimaryCtxRetain", 7000);
  auto set_current = lookup_v2<CUresult (*)(CUcontext)>(get, "cuCtxSetCurrent", 4000);
  init(0);
  CUdevice device = 0;
  device_get(&device, 0);
  CUcontext context = nullptr;
  retain(&context, device);
  set_current(context);
}

// As static cudart: everything through cuGetProcAddress_v2.
int static_cudart() {
  auto get = reinterpret_cast<GetProcV2>(dlsym(driver(), "cuGetProcAddress_v2"));
  init_context(get);
  auto mem_alloc = lookup_v2<MemAlloc>(get, "cuMemAlloc", 3020);
  auto mem_free = lookup_v2<MemFree>(get, "cuMemFree", 3020);
  auto alloc_async_ptsz = lookup_v2<MemAllocAsync>(get, "cuMemAllocAsync", 11020,
                                                   CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  CUdeviceptr a = 0, b = 0, c = 0;
  mem_alloc(&a, 100 * kMiB);
  mem_alloc(&b, 200 * kMiB);
  alloc_async_ptsz(&c, 50 * kMiB, nullptr);
  mem_free(a);
  CUdeviceptr huge = 0;
  std::printf("oversized: %d\n", mem_alloc(&huge, 64 * kGiB));
  return 0;
}

// The 4-argument resolver, asked for itself first (a self-query must come
// back as the hooked resolver, or later lookups escape).
int legacy_resolver() {
  auto legacy = reinterpret_cast<GetProcLegacy>(dlsym(driver(), "cuGetProcAddress"));
  void* self = nullptr;
  legacy("cuGetProcAddress", &self, 11030, 0);
  auto get = reinterpret_cast<GetProcLegacy>(self);
  void* pfn = nullptr;
  get("cuInit", &pfn, 2000, 0);
  reinterpret_cast<CUresult (*)(unsigned)>(pfn)(0);
  auto v2 = reinterpret_cast<GetProcV2>(dlsym(driver(), "cuGetProcAddress_v2"));
  init_context(v2);
  get("cuMemAlloc", &pfn, 3020, 0);
  CUdeviceptr a = 0;
  reinterpret_cast<MemAlloc>(pfn)(&a, 300 * kMiB);
  return 0;
}

// Older PyTorch and Triton: dlsym on the driver's handle.
int driver_dlsym() {
  auto v2 = reinterpret_cast<GetProcV2>(dlsym(driver(), "cuGetProcAddress_v2"));
  init_context(v2);
  auto mem_alloc = reinterpret_cast<MemAlloc>(dlsym(driver(), "cuMemAlloc_v2"));
  CUdeviceptr a = 0;
  mem_alloc(&a, 400 * kMiB);
  // A name we do not hook comes back untouched.
  void* untouched = dlsym(driver(), "cuMemGetInfo_v2");
  std::printf("untouched %s\n", untouched ? "found" : "missing");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "static_cudart") return static_cudart();
  if (mode == "legacy_resolver") return legacy_resolver();
  if (mode == "driver_dlsym") return driver_dlsym();
  std::fprintf(stderr, "usage: scenario_lookup static_cudart|legacy_resolver|driver_dlsym\n");
  return 2;
}
