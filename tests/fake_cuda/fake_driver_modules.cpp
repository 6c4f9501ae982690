// Fake driver: modules, JIT linking, kernel launches and the other entry
// points cuBLASLt and PyTorch's NVRTC wrapper look up with dlsym when they
// load. Nothing runs on the simulated device, so there is no module to load
// and no function to launch: those answer CUDA_ERROR_NOT_SUPPORTED, as a
// driver without the feature would. What needs no code answers plainly: a
// copy to the host reads zeros (as the runtime's), and the context limits
// are a current driver's defaults.
#include <cstring>

#include "fake_driver_state.h"

using namespace fake_cuda;

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleLoadData(CUmodule*, const void*) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleLoadDataEx(CUmodule*, const void*, unsigned int, CUjit_option*, void**) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleLoadFatBinary(CUmodule*, const void*) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleUnload(CUmodule) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleGetFunction(CUfunction*, CUmodule, const char*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuModuleGetGlobal_v2(CUdeviceptr*, size_t*, CUmodule, const char*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLinkCreate_v2(unsigned int, CUjit_option*, void**, CUlinkState*) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLinkAddData_v2(CUlinkState, CUjitInputType, void*, size_t, const char*, unsigned int,
                                                   CUjit_option*, void**) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLinkAddFile_v2(CUlinkState, CUjitInputType, const char*, unsigned int,
                                                   CUjit_option*, void**) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLinkComplete(CUlinkState, void**, size_t*) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLinkDestroy(CUlinkState) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                                                 unsigned int, unsigned int, unsigned int, CUstream, void**, void**) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig*, CUfunction, void**, void**) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuFuncGetAttribute(int*, CUfunction_attribute, CUfunction) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuOccupancyMaxActiveBlocksPerMultiprocessor(int*, CUfunction, int, size_t) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuTensorMapEncodeTiled(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                                         const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                                         const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                                         CUtensorMapL2promotion, CUtensorMapFloatOOBfill) {
  return CUDA_ERROR_NOT_SUPPORTED;
}

// Resetting would destroy every allocation of the device's primary context,
// which the simulation does not model.
FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxReset(CUdevice) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice) { return CUDA_ERROR_NOT_SUPPORTED; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  if (ByteCount == 0) return CUDA_SUCCESS;
  if (dstHost == nullptr || srcDevice == 0) return CUDA_ERROR_INVALID_VALUE;
  std::memset(dstHost, 0, ByteCount);
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxGetLimit(size_t* pvalue, CUlimit limit) {
  if (pvalue == nullptr) return CUDA_ERROR_INVALID_VALUE;
  switch (limit) {
    case CU_LIMIT_STACK_SIZE: *pvalue = 1024; return CUDA_SUCCESS;
    case CU_LIMIT_PRINTF_FIFO_SIZE: *pvalue = 1 << 20; return CUDA_SUCCESS;
    case CU_LIMIT_MALLOC_HEAP_SIZE: *pvalue = 8 << 20; return CUDA_SUCCESS;
    case CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT: *pvalue = 2048; return CUDA_SUCCESS;
    case CU_LIMIT_MAX_L2_FETCH_GRANULARITY: *pvalue = 64; return CUDA_SUCCESS;
    case CU_LIMIT_PERSISTING_L2_CACHE_SIZE: *pvalue = 0; return CUDA_SUCCESS;
    default: return CUDA_ERROR_UNSUPPORTED_LIMIT;
  }
}
