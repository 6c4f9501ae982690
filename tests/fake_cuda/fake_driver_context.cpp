// Primary contexts and the per-thread context stack of the fake driver
// (see fake_driver_context.h). Destroying a primary context when its last
// reference is released is not simulated: memory and the context overhead
// stay charged, which keeps accounting simple and matches processes that
// never release (the CUDA runtime never does).
#include "fake_driver_context.h"

#include <array>
#include <vector>

namespace fake_cuda {
namespace {

struct PrimaryContextObject {
  int device;
};

constexpr std::array<PrimaryContextObject, kMaxDevices> make_primary_contexts() {
  std::array<PrimaryContextObject, kMaxDevices> contexts{};
  for (int device = 0; device < kMaxDevices; ++device) contexts[static_cast<std::size_t>(device)].device = device;
  return contexts;
}

// Static so that handles survive fake_cuda_reset_for_tests: a runtime that
// cached them keeps working.
std::array<PrimaryContextObject, kMaxDevices> g_primary_contexts = make_primary_contexts();

struct ThreadContextStack {
  std::uint64_t generation = 0;
  std::vector<CUcontext> stack;  // back() is current
};

thread_local ThreadContextStack t_contexts;

// The calling thread's stack, emptied if a reset happened since it was used.
std::vector<CUcontext>& thread_stack() {
  const std::uint64_t generation = driver_state_generation();
  if (t_contexts.generation != generation) {
    t_contexts.stack.clear();
    t_contexts.generation = generation;
  }
  return t_contexts.stack;
}

// Validates `context` and charges its device's overhead; returns the device or -1.
int use_context(DriverState& state, CUcontext context) {
  const int device = device_of_context(state, context);
  if (device >= 0) state.device(device).context_used = true;
  return device;
}

CUresult pop_current(CUcontext* popped) {
  auto& stack = thread_stack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (popped != nullptr) *popped = stack.back();
  stack.pop_back();
  return CUDA_SUCCESS;
}

CUresult push_current(CUcontext context) {
  auto locked = lock_driver_state();
  if (use_context(locked.state, context) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  thread_stack().push_back(context);
  return CUDA_SUCCESS;
}

CUresult release_primary(CUdevice device) {
  auto locked = lock_driver_state();
  if (!locked.state.is_valid_device(device)) return CUDA_ERROR_INVALID_DEVICE;
  DeviceLedger& ledger = locked.state.device(device);
  if (ledger.primary_refcount == 0) return CUDA_ERROR_INVALID_CONTEXT;
  --ledger.primary_refcount;
  return CUDA_SUCCESS;
}

// Device of `context`, or of the current context when it is null; device 0
// stands in for "no current context" as everywhere else in the fake.
CUresult device_of_context_or_current(CUcontext context, CUdevice* device) {
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  const CUcontext subject = context != nullptr ? context : current_context();
  if (subject == nullptr) {
    if (locked.state.device_count() == 0) return CUDA_ERROR_INVALID_CONTEXT;
    *device = 0;
    return CUDA_SUCCESS;
  }
  const int found = device_of_context(locked.state, subject);
  if (found < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *device = found;
  return CUDA_SUCCESS;
}

}  // namespace

CUcontext primary_context(int device) {
  return reinterpret_cast<CUcontext>(&g_primary_contexts[static_cast<std::size_t>(device)]);
}

int device_of_context(const DriverState& state, CUcontext context) {
  for (int device = 0; device < state.device_count(); ++device) {
    if (context == primary_context(device)) return device;
  }
  return -1;
}

CUcontext current_context() {
  const auto& stack = thread_stack();
  return stack.empty() ? nullptr : stack.back();
}

int device_for_work(DriverState& state) {
  const CUcontext context = current_context();
  const int device = context != nullptr ? device_of_context(state, context) : (state.device_count() > 0 ? 0 : -1);
  if (device >= 0) state.device(device).context_used = true;
  return device;
}

CUresult device_for_stream(DriverState& state, CUstream stream, int* device) {
  const bool special = stream == nullptr || stream == CU_STREAM_LEGACY || stream == CU_STREAM_PER_THREAD;
  if (special) {
    *device = device_for_work(state);
    return *device >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
  }
  const auto handle = reinterpret_cast<std::uint64_t>(stream);
  if (!state.is_known_stream(handle)) return CUDA_ERROR_INVALID_HANDLE;
  *device = state.stream_device(handle);
  state.device(*device).context_used = true;
  return CUDA_SUCCESS;
}

}  // namespace fake_cuda

using namespace fake_cuda;

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  if (!locked.state.is_valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  DeviceLedger& ledger = locked.state.device(dev);
  ++ledger.primary_refcount;
  ledger.context_used = true;
  *pctx = primary_context(dev);
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev) { return release_primary(dev); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice dev) { return release_primary(dev); }

// Flags are never set through the fake, so they read 0 (CU_CTX_SCHED_AUTO).
FAKE_CUDA_EXPORT CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
  if (flags == nullptr || active == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  if (!locked.state.is_valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *flags = 0;
  *active = locked.state.device(dev).primary_refcount > 0 ? 1 : 0;
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  // As documented: replace the top of the stack; null pops it (or is a no-op
  // on an empty stack).
  if (ctx == nullptr) {
    pop_current(nullptr);
    return CUDA_SUCCESS;
  }
  auto locked = lock_driver_state();
  if (use_context(locked.state, ctx) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  auto& stack = thread_stack();
  if (stack.empty()) stack.push_back(ctx);
  else stack.back() = ctx;
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = current_context();
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxPushCurrent(CUcontext ctx) { return push_current(ctx); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxPushCurrent_v2(CUcontext ctx) { return push_current(ctx); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxPopCurrent(CUcontext* pctx) { return pop_current(pctx); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxPopCurrent_v2(CUcontext* pctx) { return pop_current(pctx); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxGetDevice(CUdevice* device) {
  return device_of_context_or_current(nullptr, device);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxGetDevice_v2(CUdevice* device, CUcontext ctx) {
  return device_of_context_or_current(ctx, device);
}

// Work completes immediately in the fake, so synchronizing only validates.
FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxSynchronize(void) { return CUDA_SUCCESS; }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuCtxSynchronize_v2(CUcontext ctx) {
  CUdevice ignored = 0;
  return device_of_context_or_current(ctx, &ignored);
}
