// The lookups through which real programs reach the driver. Each calls the
// real resolver with the caller's exact name, version and flags, and only
// then looks at what came back: if the returned address is the real address
// of a hooked function (cuMemAlloc_v2, cuMemAllocAsync_ptsz, ...), the caller
// gets our wrapper for exactly that function. Nothing is inferred from the
// requested name, so a version or flag the caller asked for is never changed.
#include "interpose/export.h"
#include "interpose/hook_outcome.h"
#include "interpose/hook_table.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

void substitute_wrapper(void** pfn) {
  if (!pfn || !*pfn) return;
  if (void* wrapper = wrapper_for_real_driver_function(*pfn)) *pfn = wrapper;
}

}  // namespace

OOMTRACE_EXPORT CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion,
                                          cuuint64_t flags) {
  OOMTRACE_BEGIN_HOOK(cuGetProcAddress, CUDA_ERROR_NOT_INITIALIZED)
  CUresult result = real(symbol, pfn, cudaVersion, flags);
  if (result == CUDA_SUCCESS) substitute_wrapper(pfn);
  return result;
}

OOMTRACE_EXPORT CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion,
                                             cuuint64_t flags,
                                             CUdriverProcAddressQueryResult* symbolStatus) {
  OOMTRACE_BEGIN_HOOK(cuGetProcAddress_v2, CUDA_ERROR_NOT_INITIALIZED)
  CUresult result = real(symbol, pfn, cudaVersion, flags, symbolStatus);
  if (result == CUDA_SUCCESS) substitute_wrapper(pfn);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaGetDriverEntryPoint(const char* symbol, void** funcPtr,
                                                    unsigned long long flags,
                                                    cudaDriverEntryPointQueryResult* status) {
  OOMTRACE_BEGIN_HOOK(cudaGetDriverEntryPoint, cudaErrorInitializationError)
  cudaError_t result = real(symbol, funcPtr, flags, status);
  if (result == cudaSuccess) substitute_wrapper(funcPtr);
  return result;
}

OOMTRACE_EXPORT cudaError_t cudaGetDriverEntryPointByVersion(
    const char* symbol, void** funcPtr, unsigned int cudaVersion, unsigned long long flags,
    cudaDriverEntryPointQueryResult* status) {
  OOMTRACE_BEGIN_HOOK(cudaGetDriverEntryPointByVersion, cudaErrorInitializationError)
  cudaError_t result = real(symbol, funcPtr, cudaVersion, flags, status);
  if (result == cudaSuccess) substitute_wrapper(funcPtr);
  return result;
}
