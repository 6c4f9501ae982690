#include "interpose/failure_probe.h"

#include <dlfcn.h>
#include <mutex>

#include "interpose/cuda_declarations.h"
#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

// NVML without its header: the few types and the stable v1 process record
// ({pid, usedGpuMemory} has not changed since NVML's first release, unlike
// the _v2/_v3 records whose layout moved between drivers).
using NvmlReturn = int;
using NvmlDevice = void*;
struct NvmlProcessV1 {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr NvmlReturn kNvmlInsufficientSize = 7;
constexpr unsigned long long kNvmlValueNotAvailable = ~0ull;

// nvmlMemory_t (v1): stable since NVML's first release.
struct NvmlMemoryV1 {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct Nvml {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*memory_info)(NvmlDevice, NvmlMemoryV1*) = nullptr;
  NvmlReturn (*by_pci_bus_id)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*running_processes)(NvmlDevice, unsigned int*, NvmlProcessV1*) = nullptr;
  bool ready = false;
};

Nvml& nvml() {
  static Nvml instance;
  static std::once_flag loaded;
  std::call_once(loaded, [] {
    void* handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    auto lookup = real_dlsym();
    if (!handle || !lookup) return;
    instance.init = reinterpret_cast<NvmlReturn (*)()>(lookup(handle, "nvmlInit_v2"));
    instance.by_pci_bus_id = reinterpret_cast<NvmlReturn (*)(const char*, NvmlDevice*)>(
        lookup(handle, "nvmlDeviceGetHandleByPciBusId_v2"));
    instance.running_processes =
        reinterpret_cast<NvmlReturn (*)(NvmlDevice, unsigned int*, NvmlProcessV1*)>(
            lookup(handle, "nvmlDeviceGetComputeRunningProcesses"));
    instance.memory_info = reinterpret_cast<NvmlReturn (*)(NvmlDevice, NvmlMemoryV1*)>(
        lookup(handle, "nvmlDeviceGetMemoryInfo"));
    instance.ready = instance.init && instance.by_pci_bus_id && instance.running_processes &&
                     instance.init() == kNvmlSuccess;
  });
  return instance;
}

// The pool a stream-ordered allocation on `device` comes from when the call
// named none: the device's current pool (cudaDeviceSetMemPool may have
// replaced the default one).
CUmemoryPool current_pool(int device) {
  auto* get = driver_function<decltype(cuDeviceGet)>("cuDeviceGet");
  auto* pool_of = driver_function<decltype(cuDeviceGetMemPool)>("cuDeviceGetMemPool");
  CUdevice handle = 0;
  CUmemoryPool pool = nullptr;
  if (!get || !pool_of || get(&handle, device) != CUDA_SUCCESS) return nullptr;
  return pool_of(&pool, handle) == CUDA_SUCCESS ? pool : nullptr;
}

bool pci_bus_id(int device, char* out, int length) {
  auto* get = driver_function<decltype(cuDeviceGet)>("cuDeviceGet");
  auto* bus = driver_function<decltype(cuDeviceGetPCIBusId)>("cuDeviceGetPCIBusId");
  CUdevice handle = 0;
  return get && bus && get(&handle, device) == CUDA_SUCCESS &&
         bus(out, length, handle) == CUDA_SUCCESS;
}

}  // namespace

void probe_device_memory(int device, trace::FailureContext& failure) {
  (void)device;  // cuMemGetInfo answers for the current context's device
  auto* get_info = driver_function<decltype(cuMemGetInfo_v2)>("cuMemGetInfo_v2");
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  if (get_info && get_info(&free_bytes, &total_bytes) == CUDA_SUCCESS && total_bytes > 0) {
    failure.device_info_known = true;
    failure.device_free_bytes = free_bytes;
    failure.device_total_bytes = total_bytes;
  }
}

void probe_pool(int device, uint64_t pool_handle, trace::FailureContext& failure) {
  CUmemoryPool pool =
      pool_handle ? reinterpret_cast<CUmemoryPool>(pool_handle) : current_pool(device);
  auto* attribute = driver_function<decltype(cuMemPoolGetAttribute)>("cuMemPoolGetAttribute");
  cuuint64_t reserved = 0;
  cuuint64_t used = 0;
  if (!pool || !attribute ||
      attribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) != CUDA_SUCCESS ||
      attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used) != CUDA_SUCCESS) {
    return;
  }
  failure.pool_known = true;
  failure.pool_reserved_bytes = reserved;
  failure.pool_used_bytes = used;
}

bool probe_device_memory_through_nvml(int device, uint64_t& total, uint64_t& free) {
  Nvml& api = nvml();
  char bus_id[64] = {};
  NvmlDevice handle = nullptr;
  NvmlMemoryV1 memory{};
  if (!api.ready || !api.memory_info || !pci_bus_id(device, bus_id, sizeof bus_id) ||
      api.by_pci_bus_id(bus_id, &handle) != kNvmlSuccess ||
      api.memory_info(handle, &memory) != kNvmlSuccess || memory.total == 0) {
    return false;
  }
  total = memory.total;
  free = memory.free;
  return true;
}

void probe_processes(int device, trace::FailureContext& failure) {
  Nvml& api = nvml();
  char bus_id[64] = {};
  if (!api.ready || !pci_bus_id(device, bus_id, sizeof bus_id)) return;
  NvmlDevice handle = nullptr;
  if (api.by_pci_bus_id(bus_id, &handle) != kNvmlSuccess) return;
  NvmlProcessV1 processes[64];
  unsigned int count = 64;
  NvmlReturn status = api.running_processes(handle, &count, processes);
  if (status != kNvmlSuccess && status != kNvmlInsufficientSize) return;
  failure.nvml_known = true;
  for (unsigned int i = 0; i < count && i < 64; ++i) {
    trace::ProcessUsage usage;
    usage.pid = processes[i].pid;
    // Some drivers (vGPU, containers) cannot say how much a process uses.
    usage.used_bytes =
        processes[i].usedGpuMemory == kNvmlValueNotAvailable ? 0 : processes[i].usedGpuMemory;
    failure.processes.push_back(usage);
  }
}

trace::DeviceInfo describe_device(int device) {
  trace::DeviceInfo info;
  info.index = device;
  auto* get = driver_function<decltype(cuDeviceGet)>("cuDeviceGet");
  auto* name = driver_function<decltype(cuDeviceGetName)>("cuDeviceGetName");
  auto* total = driver_function<decltype(cuDeviceTotalMem_v2)>("cuDeviceTotalMem_v2");
  CUdevice handle = 0;
  if (!get || get(&handle, device) != CUDA_SUCCESS) return info;
  char text[256] = {};
  if (name && name(text, sizeof text - 1, handle) == CUDA_SUCCESS) info.name = text;
  size_t bytes = 0;
  if (total && total(&bytes, handle) == CUDA_SUCCESS) info.total_bytes = bytes;
  char bus_id[64] = {};
  if (pci_bus_id(device, bus_id, sizeof bus_id)) info.pci_bus_id = bus_id;
  return info;
}

}  // namespace oomtrace::interpose
