// Calls that change which device the calling thread works on. They are hooked
// only to drop the thread's cached current device (current_device.h), so that
// allocations need no extra CUDA call to learn their device.
#include "interpose/export.h"
#include "interpose/hook_outcome.h"
#include "interpose/hook_table.h"

using namespace oomtrace::interpose;

namespace {
constexpr CUresult kDriverMissing = CUDA_ERROR_NOT_INITIALIZED;
}

OOMTRACE_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  OOMTRACE_BEGIN_HOOK(cuCtxSetCurrent, kDriverMissing)
  CUresult result = real(ctx);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  OOMTRACE_BEGIN_HOOK(cuCtxPushCurrent_v2, kDriverMissing)
  CUresult result = real(ctx);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  OOMTRACE_BEGIN_HOOK(cuCtxPopCurrent_v2, kDriverMissing)
  CUresult result = real(pctx);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  OOMTRACE_BEGIN_HOOK(cuCtxCreate_v2, kDriverMissing)
  CUresult result = real(pctx, flags, dev);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxCreate_v3(CUcontext* pctx, CUexecAffinityParam* paramsArray,
                                        int numParams, unsigned int flags, CUdevice dev) {
  OOMTRACE_BEGIN_HOOK(cuCtxCreate_v3, kDriverMissing)
  CUresult result = real(pctx, paramsArray, numParams, flags, dev);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxCreate_v4(CUcontext* pctx, CUctxCreateParams* ctxCreateParams,
                                        unsigned int flags, CUdevice dev) {
  OOMTRACE_BEGIN_HOOK(cuCtxCreate_v4, kDriverMissing)
  CUresult result = real(pctx, ctxCreateParams, flags, dev);
  forget_current_device();
  return result;
}

OOMTRACE_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  OOMTRACE_BEGIN_HOOK(cuCtxDestroy_v2, kDriverMissing)
  CUresult result = real(ctx);
  forget_current_device();
  return result;
}
