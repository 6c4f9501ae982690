#include "interpose/current_device.h"

#include <atomic>

#include "interpose/cuda_declarations.h"
#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

constexpr int kUnknown = -1;
thread_local int tls_device __attribute__((tls_model("initial-exec"))) = kUnknown;

using CtxGetDevice = CUresult (*)(CUdevice*);

std::atomic<CtxGetDevice> g_ctx_get_device{nullptr};

// Retried until the driver is loaded: the first allocation may come before.
CtxGetDevice ctx_get_device() {
  CtxGetDevice function = g_ctx_get_device.load(std::memory_order_acquire);
  if (function) return function;
  void* driver = loaded_driver_handle();
  auto lookup = real_dlsym();
  if (!driver || !lookup) return nullptr;
  function = reinterpret_cast<CtxGetDevice>(lookup(driver, "cuCtxGetDevice"));
  g_ctx_get_device.store(function, std::memory_order_release);
  return function;
}

}  // namespace

void forget_current_device() { tls_device = kUnknown; }

void reset_current_device_after_fork() { tls_device = kUnknown; }

int current_device() {
  if (tls_device != kUnknown) return tls_device;
  CUdevice device = 0;
  CtxGetDevice query = ctx_get_device();
  if (query && query(&device) == CUDA_SUCCESS) {
    tls_device = static_cast<int>(device);
    return tls_device;
  }
  return 0;
}

}  // namespace oomtrace::interpose
