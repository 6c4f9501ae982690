// The CUDA runtime's allocation functions (libcudart). A runtime call goes
// down to the driver through pointers the runtime obtained from
// cuGetProcAddress, which are our wrappers too: HookScope makes the nested
// driver call pass through, so the allocation is counted once, as the
// runtime call the application made.
#include "interpose/export.h"
#include "interpose/hook_outcome.h"
#include "interpose/hook_table.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

constexpr cudaError_t kRuntimeMissing = cudaErrorInitializationError;

uint64_t address_of(void* const* out) {
  return out ? reinterpret_cast<uint64_t>(*out) : 0;
}

uint64_t stream_id(cudaStream_t stream) { return reinterpret_cast<uint64_t>(stream); }

}  // namespace

OOMTRACE_EXPORT cudaError_t cudaMalloc(void** devPtr, size_t size) {
  OOMTRACE_BEGIN_HOOK(cudaMalloc, kRuntimeMissing)
  cudaError_t result = real(devPtr, size);
  after_allocation(scope, Api::cudaMalloc, result, address_of(devPtr), size, size);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaFree(void* devPtr) {
  OOMTRACE_BEGIN_HOOK(cudaFree, kRuntimeMissing)
  before_release(scope, Api::cudaFree, reinterpret_cast<uint64_t>(devPtr));
  return real(devPtr);
}

OOMTRACE_EXPORT cudaError_t cudaMallocPitch(void** devPtr, size_t* pitch, size_t width,
                                            size_t height) {
  OOMTRACE_BEGIN_HOOK(cudaMallocPitch, kRuntimeMissing)
  cudaError_t result = real(devPtr, pitch, width, height);
  uint64_t held = result == cudaSuccess && pitch ? *pitch * height : 0;
  after_allocation(scope, Api::cudaMallocPitch, result, address_of(devPtr), held, width * height);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaMalloc3D(cudaPitchedPtr* pitchedDevPtr, cudaExtent extent) {
  OOMTRACE_BEGIN_HOOK(cudaMalloc3D, kRuntimeMissing)
  cudaError_t result = real(pitchedDevPtr, extent);
  uint64_t address = 0;
  uint64_t held = 0;
  if (result == cudaSuccess && pitchedDevPtr) {
    address = reinterpret_cast<uint64_t>(pitchedDevPtr->ptr);
    held = pitchedDevPtr->pitch * extent.height * extent.depth;
  }
  after_allocation(scope, Api::cudaMalloc3D, result, address, held,
                   extent.width * extent.height * extent.depth);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaMallocManaged(void** devPtr, size_t size, unsigned int flags) {
  OOMTRACE_BEGIN_HOOK(cudaMallocManaged, kRuntimeMissing)
  cudaError_t result = real(devPtr, size, flags);
  after_allocation(scope, Api::cudaMallocManaged, result, address_of(devPtr), size, size);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaMallocHost(void** ptr, size_t size) {
  OOMTRACE_BEGIN_HOOK(cudaMallocHost, kRuntimeMissing)
  cudaError_t result = real(ptr, size);
  after_allocation(scope, Api::cudaMallocHost, result, address_of(ptr), size, size);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaHostAlloc(void** pHost, size_t size, unsigned int flags) {
  OOMTRACE_BEGIN_HOOK(cudaHostAlloc, kRuntimeMissing)
  cudaError_t result = real(pHost, size, flags);
  after_allocation(scope, Api::cudaHostAlloc, result, address_of(pHost), size, size);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaFreeHost(void* ptr) {
  OOMTRACE_BEGIN_HOOK(cudaFreeHost, kRuntimeMissing)
  before_release(scope, Api::cudaFreeHost, reinterpret_cast<uint64_t>(ptr));
  return real(ptr);
}

// Stream-ordered allocation: cudaMallocAsync, cudaMallocFromPoolAsync and
// cudaFreeAsync, each also in its per-thread-default-stream (_ptsz) form.
#define OOMTRACE_MALLOC_ASYNC(name)                                                       \
  OOMTRACE_EXPORT cudaError_t name(void** devPtr, size_t size, cudaStream_t stream) {     \
    OOMTRACE_BEGIN_HOOK(name, kRuntimeMissing)                                            \
    cudaError_t result = real(devPtr, size, stream);                                      \
    after_allocation(scope, Api::name, result, address_of(devPtr), size, size,            \
                     stream_id(stream));                                                  \
    return result;                                                                        \
  }
OOMTRACE_MALLOC_ASYNC(cudaMallocAsync)
OOMTRACE_MALLOC_ASYNC(cudaMallocAsync_ptsz)
#undef OOMTRACE_MALLOC_ASYNC

#define OOMTRACE_MALLOC_FROM_POOL_ASYNC(name)                                             \
  OOMTRACE_EXPORT cudaError_t name(void** ptr, size_t size, cudaMemPool_t pool,           \
                                   cudaStream_t stream) {                                 \
    OOMTRACE_BEGIN_HOOK(name, kRuntimeMissing)                                            \
    cudaError_t result = real(ptr, size, pool, stream);                                   \
    after_allocation(scope, Api::name, result, address_of(ptr), size, size,               \
                     stream_id(stream), reinterpret_cast<uint64_t>(pool));                \
    return result;                                                                        \
  }
OOMTRACE_MALLOC_FROM_POOL_ASYNC(cudaMallocFromPoolAsync)
OOMTRACE_MALLOC_FROM_POOL_ASYNC(cudaMallocFromPoolAsync_ptsz)
#undef OOMTRACE_MALLOC_FROM_POOL_ASYNC

#define OOMTRACE_FREE_ASYNC(name)                                                        \
  OOMTRACE_EXPORT cudaError_t name(void* devPtr, cudaStream_t stream) {                  \
    OOMTRACE_BEGIN_HOOK(name, kRuntimeMissing)                                           \
    before_release(scope, Api::name, reinterpret_cast<uint64_t>(devPtr), stream_id(stream)); \
    return real(devPtr, stream);                                                         \
  }
OOMTRACE_FREE_ASYNC(cudaFreeAsync)
OOMTRACE_FREE_ASYNC(cudaFreeAsync_ptsz)
#undef OOMTRACE_FREE_ASYNC

OOMTRACE_EXPORT cudaError_t cudaSetDevice(int device) {
  OOMTRACE_BEGIN_HOOK(cudaSetDevice, kRuntimeMissing)
  cudaError_t result = real(device);
  forget_current_device();
  return result;
}
