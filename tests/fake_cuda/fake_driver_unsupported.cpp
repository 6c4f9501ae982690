// Fake driver: entry points that exist so that programs which look them up
// load and start (PyTorch's DriverAPI asserts that each one resolves, and
// cuBLASLt looks some up at load), for features the simulation does not
// offer. Each answers the way a real driver does on hardware without the
// feature: CUDA_ERROR_NOT_SUPPORTED. A few stream operations that move no
// memory succeed and do nothing, like the runtime's kernels and memsets.
#include "fake_driver_state.h"

using namespace fake_cuda;

// ------------------------------------------------------------ stream operations that move no memory

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamWriteValue32(CUstream, CUdeviceptr addr, cuuint32_t, unsigned int) {
  return addr != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamWriteValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value,
                                                          unsigned int flags) {
  return cuStreamWriteValue32(stream, addr, value, flags);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int, size_t, CUstream) {
  return dstDevice != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                                        CUstream hStream) {
  return cuMemsetD32Async(dstDevice, ui, N, hStream);
}

// ------------------------------------------------------------ sharing memory with other processes

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemExportToShareableHandle(void*, CUmemGenericAllocationHandle,
                                                               CUmemAllocationHandleType, unsigned long long) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemImportFromShareableHandle(CUmemGenericAllocationHandle*, void*,
                                                                 CUmemAllocationHandleType) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemRetainAllocationHandle(CUmemGenericAllocationHandle*, void*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

// ------------------------------------------------------------ multicast (NVLink switches)

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMulticastCreate(CUmemGenericAllocationHandle*, const CUmulticastObjectProp*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMulticastAddDevice(CUmemGenericAllocationHandle, CUdevice) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMulticastBindMem(CUmemGenericAllocationHandle, size_t, CUmemGenericAllocationHandle,
                                                     size_t, size_t, unsigned long long) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMulticastUnbind(CUmemGenericAllocationHandle, CUdevice, size_t, size_t) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

// ------------------------------------------------------------ green contexts (SM partitions)

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDeviceGetDevResource(CUdevice, CUdevResource*, CUdevResourceType) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevSmResourceSplitByCount(CUdevResource*, unsigned int*, const CUdevResource*,
                                                              CUdevResource*, unsigned int, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevResourceGenerateDesc(CUdevResourceDesc*, CUdevResource*, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuGreenCtxCreate(CUgreenCtx*, CUdevResourceDesc, CUdevice, unsigned int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuGreenCtxDestroy(CUgreenCtx) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuGreenCtxStreamCreate(CUstream*, CUgreenCtx, unsigned int, int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxFromGreenCtx(CUcontext*, CUgreenCtx) { return CUDA_ERROR_NOT_SUPPORTED; }
