// What the fake runtime's source files share: the driver functions it
// resolved through cuGetProcAddress, the per-thread error, and lazy context
// activation. Internal to libcudart (hidden visibility), never exported.
#pragma once

#include <cstdint>

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime_api.h>

#include "address_layout.h"

#define FAKE_CUDART_EXPORT extern "C" __attribute__((visibility("default")))

// The major version this copy of the runtime stands in for: 13 builds
// libcudart.so.13, 12 builds libcudart.so.12 (PyTorch's CUDA 12 wheels).
#ifndef FAKE_CUDA_MAJOR
#define FAKE_CUDA_MAJOR 13
#endif

namespace fake_cudart {

// What cudaRuntimeGetVersion reports, and the version the unversioned
// cudaGetDriverEntryPoint asks the driver for.
inline constexpr int kRuntimeVersion = FAKE_CUDA_MAJOR == 12 ? 12080 : 13000;

// Each member's type names the ABI version it is resolved at.
struct DriverApi {
  PFN_cuGetProcAddress_v12000 cuGetProcAddress = nullptr;  // the one dlsym() lookup
  PFN_cuInit_v2000 cuInit = nullptr;
  PFN_cuDeviceGetCount_v2000 cuDeviceGetCount = nullptr;
  PFN_cuDevicePrimaryCtxRetain_v7000 cuDevicePrimaryCtxRetain = nullptr;
  PFN_cuCtxSetCurrent_v4000 cuCtxSetCurrent = nullptr;
  PFN_cuCtxGetCurrent_v4000 cuCtxGetCurrent = nullptr;
  PFN_cuCtxGetDevice_v2000 cuCtxGetDevice = nullptr;
  PFN_cuCtxSynchronize_v2000 cuCtxSynchronize = nullptr;
  PFN_cuMemGetInfo_v3020 cuMemGetInfo = nullptr;
  PFN_cuMemAlloc_v3020 cuMemAlloc = nullptr;
  PFN_cuMemAllocPitch_v3020 cuMemAllocPitch = nullptr;
  PFN_cuMemFree_v3020 cuMemFree = nullptr;
  PFN_cuMemAllocManaged_v6000 cuMemAllocManaged = nullptr;
  PFN_cuMemAllocHost_v3020 cuMemAllocHost = nullptr;
  PFN_cuMemHostAlloc_v2020 cuMemHostAlloc = nullptr;
  PFN_cuMemFreeHost_v2000 cuMemFreeHost = nullptr;
  PFN_cuStreamCreate_v2000 cuStreamCreate = nullptr;
  PFN_cuStreamDestroy_v4000 cuStreamDestroy = nullptr;
  PFN_cuStreamSynchronize_v2000 cuStreamSynchronize = nullptr;
  PFN_cuMemAllocAsync_v11020 cuMemAllocAsync = nullptr;
  PFN_cuMemAllocAsync_v11020_ptsz cuMemAllocAsync_ptsz = nullptr;
  PFN_cuMemFreeAsync_v11020 cuMemFreeAsync = nullptr;
  PFN_cuMemFreeAsync_v11020_ptsz cuMemFreeAsync_ptsz = nullptr;
  PFN_cuMemAllocFromPoolAsync_v11020 cuMemAllocFromPoolAsync = nullptr;
  PFN_cuMemAllocFromPoolAsync_v11020_ptsz cuMemAllocFromPoolAsync_ptsz = nullptr;
  PFN_cuDeviceGetDefaultMemPool_v11020 cuDeviceGetDefaultMemPool = nullptr;
  PFN_cuMemPoolCreate_v11020 cuMemPoolCreate = nullptr;
  PFN_cuMemPoolDestroy_v11020 cuMemPoolDestroy = nullptr;
  PFN_cuMemPoolSetAttribute_v11020 cuMemPoolSetAttribute = nullptr;
  PFN_cuMemPoolGetAttribute_v11020 cuMemPoolGetAttribute = nullptr;
  PFN_cuMemPoolTrimTo_v11020 cuMemPoolTrimTo = nullptr;
  // Device description, as cudaGetDeviceProperties assembles it.
  PFN_cuDriverGetVersion_v2020 cuDriverGetVersion = nullptr;
  PFN_cuDeviceGetName_v2000 cuDeviceGetName = nullptr;
  PFN_cuDeviceTotalMem_v3020 cuDeviceTotalMem = nullptr;
  PFN_cuDeviceGetAttribute_v2000 cuDeviceGetAttribute = nullptr;
  PFN_cuDeviceGetPCIBusId_v4010 cuDeviceGetPCIBusId = nullptr;
};


// The driver, loaded once; status is sticky like cudart's init failure.
cudaError_t driver_status();
const DriverApi& api();

cudaError_t to_runtime_error(CUresult result);

// Every entry point returns through here so failures become the thread's
// last error, as in the real runtime.
cudaError_t record(cudaError_t error);
cudaError_t record(CUresult result);

// Makes the current device's primary context current unless a context is.
cudaError_t ensure_context();

// Valid device ordinal of a loaded driver, else the error to return.
cudaError_t check_device(int device);

// True for addresses the simulated driver hands out for device memory or
// VMM reservations (address_layout.h); never host memory.
inline bool is_device_address(const void* pointer) {
  return fake_cuda::is_device_window_address(reinterpret_cast<std::uintptr_t>(pointer));
}

}  // namespace fake_cudart
