// Fake runtime: what compiled kernels and data movement need. nvcc's
// generated code registers fat binaries, functions and variables from static
// constructors and launches through __cudaPushCallConfiguration /
// __cudaPopCallConfiguration + __cudaLaunchKernel (crt/host_runtime.h); all
// of it is accepted and nothing runs. Copies and memsets succeed without
// moving data, except that host-to-host copies copy and device-to-host ones
// zero the destination, so a program reading a result back sees 0, never
// uninitialized memory. CUDA graphs and IPC are not simulated.
#include <cstring>
#include <vector>

#include "fake_runtime_internal.h"

using namespace fake_cudart;

namespace {

struct CallConfiguration {
  dim3 grid;
  dim3 block;
  size_t shared_memory = 0;
  cudaStream_t stream = nullptr;
};

thread_local std::vector<CallConfiguration> t_call_configurations;

// A fat binary handle only has to be unique and stable.
void* g_fat_binary_handle = nullptr;

cudaError_t launch(dim3 grid, dim3 block) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (block.x * block.y * block.z > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
    return record(cudaErrorInvalidConfiguration);
  }
  return cudaSuccess;
}

cudaError_t copy(void* dst, const void* src, size_t count) {
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  const bool to_device = is_device_address(dst);
  const bool from_device = is_device_address(src);
  if (!to_device && !from_device) std::memmove(dst, src, count);
  if (!to_device && from_device) std::memset(dst, 0, count);
  return cudaSuccess;
}

cudaError_t set_memory(void* devPtr) {
  if (devPtr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  return ready == cudaSuccess ? ready : record(ready);
}

}  // namespace

// ------------------------------------------------------------ registration (static constructors)

FAKE_CUDART_EXPORT void** CUDARTAPI __cudaRegisterFatBinary(void*) { return &g_fat_binary_handle; }

FAKE_CUDART_EXPORT void CUDARTAPI __cudaRegisterFatBinaryEnd(void**) {}

FAKE_CUDART_EXPORT void CUDARTAPI __cudaUnregisterFatBinary(void**) {}

FAKE_CUDART_EXPORT void CUDARTAPI __cudaRegisterFunction(void**, const char*, char*, const char*, int, uint3*, uint3*,
                                                         dim3*, dim3*, int*) {}

FAKE_CUDART_EXPORT void CUDARTAPI __cudaRegisterVar(void**, char*, char*, const char*, int, size_t, int, int) {}

FAKE_CUDART_EXPORT void CUDARTAPI __cudaRegisterManagedVar(void**, void**, char*, const char*, int, size_t, int, int) {}

FAKE_CUDART_EXPORT char CUDARTAPI __cudaInitModule(void**) { return 1; }

// ------------------------------------------------------------ launches

FAKE_CUDART_EXPORT unsigned CUDARTAPI __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem,
                                                                  void* stream) {
  t_call_configurations.push_back({gridDim, blockDim, sharedMem, static_cast<cudaStream_t>(stream)});
  return 0;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI __cudaPopCallConfiguration(dim3* gridDim, dim3* blockDim, size_t* sharedMem,
                                                                    void* stream) {
  if (t_call_configurations.empty()) return cudaErrorMissingConfiguration;
  const CallConfiguration configuration = t_call_configurations.back();
  t_call_configurations.pop_back();
  *gridDim = configuration.grid;
  *blockDim = configuration.block;
  *sharedMem = configuration.shared_memory;
  *static_cast<cudaStream_t*>(stream) = configuration.stream;
  return cudaSuccess;
}

// The kernel handle is the host stub's address: unique per kernel.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI __cudaGetKernel(cudaKernel_t* kernel, const void* function) {
  if (kernel == nullptr) return cudaErrorInvalidValue;
  *kernel = reinterpret_cast<cudaKernel_t>(const_cast<void*>(function));
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI __cudaLaunchKernel(cudaKernel_t, dim3 gridDim, dim3 blockDim, void**, size_t,
                                                            cudaStream_t) {
  return launch(gridDim, blockDim);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI __cudaLaunchKernel_ptsz(cudaKernel_t, dim3 gridDim, dim3 blockDim, void**,
                                                                 size_t, cudaStream_t) {
  return launch(gridDim, blockDim);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaLaunchKernel(const void*, dim3 gridDim, dim3 blockDim, void**, size_t,
                                                          cudaStream_t) {
  return launch(gridDim, blockDim);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaLaunchCooperativeKernel(const void*, dim3 gridDim, dim3 blockDim, void**,
                                                                     size_t, cudaStream_t) {
  return launch(gridDim, blockDim);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaLaunchKernelExC(const cudaLaunchConfig_t* config, const void*, void**) {
  if (config == nullptr) return record(cudaErrorInvalidValue);
  return launch(config->gridDim, config->blockDim);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFuncGetAttributes(cudaFuncAttributes* attr, const void*) {
  if (attr == nullptr) return record(cudaErrorInvalidValue);
  *attr = cudaFuncAttributes{};
  attr->maxThreadsPerBlock = 1024;
  attr->numRegs = 32;
  attr->ptxVersion = 90;
  attr->binaryVersion = 90;
  attr->maxDynamicSharedSizeBytes = 48 * 1024;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFuncSetAttribute(const void*, cudaFuncAttribute, int) { return cudaSuccess; }

// 2048 resident threads per SM, as on an H100.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* numBlocks,
                                                                                              const void*,
                                                                                              int blockSize, size_t,
                                                                                              unsigned int) {
  if (numBlocks == nullptr || blockSize <= 0) return record(cudaErrorInvalidValue);
  *numBlocks = blockSize >= 2048 ? 1 : 2048 / blockSize;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks,
                                                                                     const void* func,
                                                                                     int blockSize,
                                                                                     size_t dynamicSMemSize) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize, dynamicSMemSize, 0);
}

// ------------------------------------------------------------ copies and memsets

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind) {
  return copy(dst, src, count);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind,
                                                         cudaStream_t) {
  return copy(dst, src, count);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                                                           size_t width, size_t height, cudaMemcpyKind,
                                                           cudaStream_t) {
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidPitchValue);
  for (size_t row = 0; row < height; ++row) {
    const cudaError_t copied =
        copy(static_cast<char*>(dst) + row * dpitch, static_cast<const char*>(src) + row * spitch, width);
    if (copied != cudaSuccess) return copied;
  }
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemcpyPeerAsync(void* dst, int, const void* src, int, size_t count,
                                                             cudaStream_t) {
  return copy(dst, src, count);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemcpyToSymbol(const void* symbol, const void*, size_t, size_t,
                                                            cudaMemcpyKind) {
  return symbol != nullptr ? cudaSuccess : record(cudaErrorInvalidSymbol);
}

// A __device__ variable's address is its host shadow's: unique, never used
// to reach memory on the simulated device.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetSymbolAddress(void** devPtr, const void* symbol) {
  if (devPtr == nullptr || symbol == nullptr) return record(cudaErrorInvalidSymbol);
  *devPtr = const_cast<void*>(symbol);
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemset(void* devPtr, int, size_t) { return set_memory(devPtr); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemsetAsync(void* devPtr, int, size_t, cudaStream_t) {
  return set_memory(devPtr);
}

// ------------------------------------------------------------ host registration

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaHostRegister(void* ptr, size_t, unsigned int) {
  return ptr != nullptr ? cudaSuccess : record(cudaErrorInvalidValue);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaHostUnregister(void* ptr) {
  return ptr != nullptr ? cudaSuccess : record(cudaErrorInvalidValue);
}

// Mapped pinned memory is addressed by the same pointer on the device (UVA).
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaHostGetDevicePointer(void** pDevice, void* pHost, unsigned int) {
  if (pDevice == nullptr || pHost == nullptr) return record(cudaErrorInvalidValue);
  *pDevice = pHost;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolSetAccess(cudaMemPool_t memPool, const cudaMemAccessDesc*, size_t) {
  return memPool != nullptr ? cudaSuccess : record(cudaErrorInvalidValue);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaProfilerStart(void) { return cudaSuccess; }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaProfilerStop(void) { return cudaSuccess; }

// ------------------------------------------------------------ not simulated: IPC and graphs

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaIpcGetMemHandle(cudaIpcMemHandle_t*, void*) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaIpcOpenMemHandle(void**, cudaIpcMemHandle_t, unsigned int) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaIpcCloseMemHandle(void*) { return record(cudaErrorNotSupported); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphInstantiate(cudaGraphExec_t*, cudaGraph_t, unsigned long long) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphInstantiateWithFlags(cudaGraphExec_t*, cudaGraph_t,
                                                                       unsigned long long) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphLaunch(cudaGraphExec_t, cudaStream_t) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphGetNodes(cudaGraph_t, cudaGraphNode_t*, size_t*) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphNodeGetDependencies(cudaGraphNode_t, cudaGraphNode_t*,
                                                                      cudaGraphEdgeData*, size_t*) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphDebugDotPrint(cudaGraph_t, const char*, unsigned int) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphExecDestroy(cudaGraphExec_t) { return record(cudaErrorNotSupported); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGraphDestroy(cudaGraph_t) { return record(cudaErrorNotSupported); }
