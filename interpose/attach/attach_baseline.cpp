#include "interpose/attach/attach_baseline.h"

#include <algorithm>

#include "interpose/cuda_declarations.h"
#include "interpose/failure_probe.h"
#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

struct DriverCalls {
  decltype(cuDeviceGetCount)* count = driver_function<decltype(cuDeviceGetCount)>("cuDeviceGetCount");
  decltype(cuDeviceGet)* get = driver_function<decltype(cuDeviceGet)>("cuDeviceGet");
  decltype(cuDevicePrimaryCtxGetState)* state =
      driver_function<decltype(cuDevicePrimaryCtxGetState)>("cuDevicePrimaryCtxGetState");
  decltype(cuDevicePrimaryCtxRetain)* retain =
      driver_function<decltype(cuDevicePrimaryCtxRetain)>("cuDevicePrimaryCtxRetain");
  decltype(cuDevicePrimaryCtxRelease_v2)* release =
      driver_function<decltype(cuDevicePrimaryCtxRelease_v2)>("cuDevicePrimaryCtxRelease_v2");
  decltype(cuCtxPushCurrent_v2)* push = driver_function<decltype(cuCtxPushCurrent_v2)>("cuCtxPushCurrent_v2");
  decltype(cuCtxPopCurrent_v2)* pop = driver_function<decltype(cuCtxPopCurrent_v2)>("cuCtxPopCurrent_v2");

  bool usable() const { return count && get && state && retain && release && push && pop; }
};

// cuMemGetInfo answers for the current context, so the device's primary
// context is made current on this (the library's) thread for the question,
// but only when the process already made it active: retaining an inactive
// one would create a context, and cost the program device memory.
void measure_device_memory(const DriverCalls& driver, int device, trace::AttachBaseline& out) {
  CUdevice handle = 0;
  unsigned int flags = 0;
  int active = 0;
  if (driver.get(&handle, device) != CUDA_SUCCESS ||
      driver.state(handle, &flags, &active) != CUDA_SUCCESS || !active) {
    return;
  }
  CUcontext context = nullptr;
  if (driver.retain(&context, handle) != CUDA_SUCCESS) return;
  if (driver.push(context) == CUDA_SUCCESS) {
    trace::FailureContext figures;
    probe_device_memory(device, figures);
    out.memory_known = figures.device_info_known;
    out.total_bytes = figures.device_total_bytes;
    out.free_bytes = figures.device_free_bytes;
    CUcontext popped = nullptr;
    driver.pop(&popped);
  }
  driver.release(handle);
}

void measure_process_usage(int device, const std::vector<uint32_t>& pids,
                           trace::AttachBaseline& out) {
  trace::FailureContext figures;
  probe_processes(device, figures);
  if (!figures.nvml_known) return;
  for (const trace::ProcessUsage& usage : figures.processes) {
    if (std::find(pids.begin(), pids.end(), usage.pid) == pids.end()) continue;
    out.process_known = true;
    out.process_used_bytes = usage.used_bytes;
    return;
  }
  // NVML answered and does not list the process: it holds nothing there.
  out.process_known = true;
  out.process_used_bytes = 0;
}

}  // namespace

std::vector<trace::AttachBaseline> measure_attach_baseline(const std::vector<uint32_t>& pids) {
  std::vector<trace::AttachBaseline> devices;
  DriverCalls driver;
  int count = 0;
  // A process that never initialised CUDA has no devices to measure; cuInit
  // is not called for it, since that would change the process.
  if (!driver.usable() || driver.count(&count) != CUDA_SUCCESS) return devices;
  for (int device = 0; device < count && device < 64; ++device) {
    trace::AttachBaseline baseline;
    baseline.device = device;
    measure_device_memory(driver, device, baseline);
    if (!baseline.memory_known) {
      baseline.memory_known =
          probe_device_memory_through_nvml(device, baseline.total_bytes, baseline.free_bytes);
    }
    measure_process_usage(device, pids, baseline);
    devices.push_back(baseline);
  }
  return devices;
}

}  // namespace oomtrace::interpose
