// Declarations shared by the fake CUDA driver's translation units.
//
// cuda.h renames most entry points with macros (cuMemAlloc -> cuMemAlloc_v2,
// cuGetProcAddress -> cuGetProcAddress_v2, ...) and declares the legacy
// unversioned ABI and the per-thread-stream (_ptsz) variants only for NVIDIA's
// own build (__CUDA_API_VERSION_INTERNAL). A driver has to export every
// generation under its exact symbol name, so this header drops the renames
// and declares the hidden prototypes itself.
#pragma once

#include <cuda.h>

#include <cstddef>

#undef cuDeviceTotalMem
#undef cuMemGetInfo
#undef cuMemAlloc
#undef cuMemAllocPitch
#undef cuMemFree
#undef cuMemAllocHost
#undef cuCtxPopCurrent
#undef cuCtxPushCurrent
#undef cuStreamDestroy
#undef cuDevicePrimaryCtxRelease
#undef cuGetProcAddress
#undef cuStreamWriteValue32
#undef cuMemsetD32Async
#undef cuDevicePrimaryCtxReset

// Everything is built with -fvisibility=hidden; only the driver API (and the
// test-only helpers) are exported, and -Bsymbolic binds calls between them
// inside the library.
#define FAKE_CUDA_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {

// The 32-bit device pointer of the pre-CUDA-3.2 ABI.
typedef unsigned int CUdeviceptr_v1;

// Legacy unversioned entry points (what cuGetProcAddress returns for a
// cudaVersion older than the _v2 variant).
CUresult CUDAAPI cuDeviceTotalMem(unsigned int* bytes, CUdevice dev);
CUresult CUDAAPI cuMemGetInfo(unsigned int* free, unsigned int* total);
CUresult CUDAAPI cuMemAlloc(CUdeviceptr_v1* dptr, unsigned int bytesize);
CUresult CUDAAPI cuMemAllocPitch(CUdeviceptr_v1* dptr, unsigned int* pPitch, unsigned int WidthInBytes,
                                 unsigned int Height, unsigned int ElementSizeBytes);
CUresult CUDAAPI cuMemFree(CUdeviceptr_v1 dptr);
CUresult CUDAAPI cuMemAllocHost(void** pp, unsigned int bytesize);
CUresult CUDAAPI cuCtxPopCurrent(CUcontext* pctx);
CUresult CUDAAPI cuCtxPushCurrent(CUcontext ctx);
CUresult CUDAAPI cuStreamDestroy(CUstream hStream);
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev);
CUresult CUDAAPI cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags);
CUresult CUDAAPI cuStreamWriteValue32(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags);
CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream);
CUresult CUDAAPI cuDevicePrimaryCtxReset(CUdevice dev);
CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice dev);

// Per-thread default stream variants (cuda.h maps the unversioned names to
// these only when CUDA_API_PER_THREAD_DEFAULT_STREAM is defined).
CUresult CUDAAPI cuStreamSynchronize_ptsz(CUstream hStream);
CUresult CUDAAPI cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream hStream);
CUresult CUDAAPI cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream);
CUresult CUDAAPI cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream);
CUresult CUDAAPI cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                              CUstream hStream);

}  // extern "C"

#include "fake_cuda_test_hooks.h"
