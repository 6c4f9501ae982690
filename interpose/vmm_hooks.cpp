// Virtual memory management: how PyTorch's expandable segments and JAX/XLA
// hold device memory. Physical memory is what cuMemCreate makes (and what runs
// out); cuMemAddressReserve only reserves addresses; cuMemMap/cuMemUnmap make
// physical memory visible at an address.
#include "interpose/export.h"
#include "interpose/hook_outcome.h"
#include "interpose/hook_table.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

constexpr CUresult kDriverMissing = CUDA_ERROR_NOT_INITIALIZED;

// NCCL creates host memory with cuMemCreate (ncclCuMemHostEnable): that is
// not device memory and must not count against a GPU.
int device_of(const CUmemAllocationProp* prop) {
  if (prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE) return prop->location.id;
  return kHostDevice;
}

}  // namespace

OOMTRACE_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                     const CUmemAllocationProp* prop, unsigned long long flags) {
  OOMTRACE_BEGIN_HOOK(cuMemCreate, kDriverMissing)
  CUresult result = real(handle, size, prop, flags);
  if (scope.outermost()) {
    ErrnoKeeper keep_errno;
    if (result == CUDA_SUCCESS && handle) {
      record_allocation(Api::cuMemCreate, device_of(prop), *handle, size);
    } else if (result == CUDA_ERROR_OUT_OF_MEMORY) {
      record_failure(Api::cuMemCreate, device_of(prop), size, result);
    }
  }
  return result;
}

OOMTRACE_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
  OOMTRACE_BEGIN_HOOK(cuMemRelease, kDriverMissing)
  before_release(scope, Api::cuMemRelease, handle);
  return real(handle);
}

OOMTRACE_EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                                  CUmemGenericAllocationHandle handle, unsigned long long flags) {
  OOMTRACE_BEGIN_HOOK(cuMemMap, kDriverMissing)
  CUresult result = real(ptr, size, offset, handle, flags);
  if (scope.outermost() && result == CUDA_SUCCESS) {
    ErrnoKeeper keep_errno;
    record_mapping(ptr, size, handle);
  }
  return result;
}

OOMTRACE_EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) {
  OOMTRACE_BEGIN_HOOK(cuMemUnmap, kDriverMissing)
  // Before the real call, for the same reason as before_release.
  if (scope.outermost()) {
    ErrnoKeeper keep_errno;
    record_unmapping(ptr, size);
  }
  return real(ptr, size);
}

OOMTRACE_EXPORT CUresult cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment,
                                             CUdeviceptr addr, unsigned long long flags) {
  OOMTRACE_BEGIN_HOOK(cuMemAddressReserve, kDriverMissing)
  CUresult result = real(ptr, size, alignment, addr, flags);
  after_allocation(scope, Api::cuMemAddressReserve, result, ptr ? *ptr : 0, size, size);
  return result;
}

OOMTRACE_EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  OOMTRACE_BEGIN_HOOK(cuMemAddressFree, kDriverMissing)
  before_release(scope, Api::cuMemAddressFree, ptr);
  return real(ptr, size);
}
