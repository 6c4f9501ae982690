// The driver's allocation functions (libcuda). Reached directly by programs
// that link libcuda, and through our lookup hooks by everything else.
#include "interpose/export.h"
#include "interpose/hook_outcome.h"
#include "interpose/hook_table.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

constexpr CUresult kDriverMissing = CUDA_ERROR_NOT_INITIALIZED;

uint64_t address_of(const CUdeviceptr* out) { return out ? static_cast<uint64_t>(*out) : 0; }
uint64_t address_of(void* const* out) { return out ? reinterpret_cast<uint64_t>(*out) : 0; }
uint64_t stream_id(CUstream stream) { return reinterpret_cast<uint64_t>(stream); }

}  // namespace

OOMTRACE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  OOMTRACE_BEGIN_HOOK(cuMemAlloc_v2, kDriverMissing)
  CUresult result = real(dptr, bytesize);
  after_allocation(scope, Api::cuMemAlloc_v2, result, address_of(dptr), bytesize, bytesize);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t width,
                                            size_t height, unsigned int elementSizeBytes) {
  OOMTRACE_BEGIN_HOOK(cuMemAllocPitch_v2, kDriverMissing)
  CUresult result = real(dptr, pPitch, width, height, elementSizeBytes);
  uint64_t held = result == CUDA_SUCCESS && pPitch ? *pPitch * height : 0;
  after_allocation(scope, Api::cuMemAllocPitch_v2, result, address_of(dptr), held, width * height);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  OOMTRACE_BEGIN_HOOK(cuMemAllocManaged, kDriverMissing)
  CUresult result = real(dptr, bytesize, flags);
  after_allocation(scope, Api::cuMemAllocManaged, result, address_of(dptr), bytesize, bytesize);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
  OOMTRACE_BEGIN_HOOK(cuMemFree_v2, kDriverMissing)
  before_release(scope, Api::cuMemFree_v2, dptr);
  return real(dptr);
}

OOMTRACE_EXPORT CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
  OOMTRACE_BEGIN_HOOK(cuMemAllocHost_v2, kDriverMissing)
  CUresult result = real(pp, bytesize);
  after_allocation(scope, Api::cuMemAllocHost_v2, result, address_of(pp), bytesize, bytesize);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags) {
  OOMTRACE_BEGIN_HOOK(cuMemHostAlloc, kDriverMissing)
  CUresult result = real(pp, bytesize, flags);
  after_allocation(scope, Api::cuMemHostAlloc, result, address_of(pp), bytesize, bytesize);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemFreeHost(void* p) {
  OOMTRACE_BEGIN_HOOK(cuMemFreeHost, kDriverMissing)
  before_release(scope, Api::cuMemFreeHost, reinterpret_cast<uint64_t>(p));
  return real(p);
}

#define OOMTRACE_MEM_ALLOC_ASYNC(name)                                                      \
  OOMTRACE_EXPORT CUresult name(CUdeviceptr* dptr, size_t bytesize, CUstream stream) {      \
    OOMTRACE_BEGIN_HOOK(name, kDriverMissing)                                               \
    CUresult result = real(dptr, bytesize, stream);                                         \
    after_allocation(scope, Api::name, result, address_of(dptr), bytesize, bytesize,        \
                     stream_id(stream));                                                    \
    return result;                                                                          \
  }
OOMTRACE_MEM_ALLOC_ASYNC(cuMemAllocAsync)
OOMTRACE_MEM_ALLOC_ASYNC(cuMemAllocAsync_ptsz)
#undef OOMTRACE_MEM_ALLOC_ASYNC

#define OOMTRACE_MEM_ALLOC_FROM_POOL_ASYNC(name)                                            \
  OOMTRACE_EXPORT CUresult name(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,      \
                                CUstream stream) {                                          \
    OOMTRACE_BEGIN_HOOK(name, kDriverMissing)                                               \
    CUresult result = real(dptr, bytesize, pool, stream);                                   \
    after_allocation(scope, Api::name, result, address_of(dptr), bytesize, bytesize,        \
                     stream_id(stream), reinterpret_cast<uint64_t>(pool));                  \
    return result;                                                                          \
  }
OOMTRACE_MEM_ALLOC_FROM_POOL_ASYNC(cuMemAllocFromPoolAsync)
OOMTRACE_MEM_ALLOC_FROM_POOL_ASYNC(cuMemAllocFromPoolAsync_ptsz)
#undef OOMTRACE_MEM_ALLOC_FROM_POOL_ASYNC

#define OOMTRACE_MEM_FREE_ASYNC(name)                                \
  OOMTRACE_EXPORT CUresult name(CUdeviceptr dptr, CUstream stream) {  \
    OOMTRACE_BEGIN_HOOK(name, kDriverMissing)                         \
    before_release(scope, Api::name, dptr, stream_id(stream));        \
    return real(dptr, stream);                                        \
  }
OOMTRACE_MEM_FREE_ASYNC(cuMemFreeAsync)
OOMTRACE_MEM_FREE_ASYNC(cuMemFreeAsync_ptsz)
#undef OOMTRACE_MEM_FREE_ASYNC
