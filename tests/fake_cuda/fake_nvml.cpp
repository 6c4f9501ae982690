// Fake NVML (libnvidia-ml.so.1) for tests.
//
// Describes the same machine as the fake driver (both read FAKE_CUDA_*), so
// a tracer can cross-check the driver's view with NVML's: total memory, used
// and free memory, and the list of compute processes, made of
//   - the "other process" (FAKE_CUDA_OTHER_PID holding FAKE_CUDA_OTHER_MIB on
//     that device), when that amount is non-zero, and
//   - this process, holding what the fake driver says it holds plus the
//     context overhead, when that is non-zero. The figures come from the
//     driver's test-only hooks, found with dlopen(RTLD_NOLOAD): NVML must not
//     load the driver itself, and without a loaded driver this process holds
//     nothing.
// The configuration is read at nvmlInit when NVML is not initialized yet, so
// shutting down and initializing again picks up a changed environment.
// Not simulated: utilization, clocks, temperatures, events, MIG, and every
// NVML function not declared in fake_nvml_api.h.
#include "fake_nvml_api.h"

#include <dlfcn.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <vector>

#include "fake_cuda_config.h"

#define FAKE_NVML_EXPORT extern "C" __attribute__((visibility("default")))

using namespace fake_cuda;

namespace {

struct DeviceHandleObject {
  int index;
};

constexpr std::array<DeviceHandleObject, kMaxDevices> make_device_handles() {
  std::array<DeviceHandleObject, kMaxDevices> handles{};
  for (int index = 0; index < kMaxDevices; ++index) handles[static_cast<std::size_t>(index)].index = index;
  return handles;
}

// Handles point into this static table so they stay valid across
// nvmlShutdown/nvmlInit, as real NVML handles of the same GPU do.
std::array<DeviceHandleObject, kMaxDevices> g_device_handles = make_device_handles();

struct NvmlState {
  std::mutex mutex;
  int init_count = 0;     // nvmlInit and nvmlShutdown calls must pair up
  MachineConfig machine;  // valid while init_count > 0
};

NvmlState& nvml_state() {
  static NvmlState state;
  return state;
}

nvmlDevice_t handle_of(int index) {
  return reinterpret_cast<nvmlDevice_t>(&g_device_handles[static_cast<std::size_t>(index)]);
}

// Index of a device handle, or -1 when it does not name a configured device.
int index_of(const MachineConfig& machine, nvmlDevice_t device) {
  for (std::size_t index = 0; index < machine.devices.size(); ++index) {
    if (device == handle_of(static_cast<int>(index))) return static_cast<int>(index);
  }
  return -1;
}

// Bytes this process holds on `device` according to the fake driver,
// context overhead included; 0 when the driver is not loaded.
unsigned long long this_process_bytes(int device) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (driver == nullptr) return 0;
  using BytesHook = std::size_t (*)(int);
  const auto used = reinterpret_cast<BytesHook>(dlsym(driver, "fake_cuda_process_used_bytes"));
  const auto context = reinterpret_cast<BytesHook>(dlsym(driver, "fake_cuda_process_context_bytes"));
  unsigned long long bytes = 0;
  if (used != nullptr) bytes += used(device);
  if (context != nullptr) bytes += context(device);
  dlclose(driver);
  return bytes;
}

struct ProcessUsage {
  unsigned int pid;
  unsigned long long bytes;
};

std::vector<ProcessUsage> processes_on(const MachineConfig& machine, int device) {
  std::vector<ProcessUsage> processes;
  const unsigned long long other = machine.devices[static_cast<std::size_t>(device)].other_bytes;
  if (other > 0) processes.push_back({machine.other_pid, other});
  const unsigned long long mine = this_process_bytes(device);
  if (mine > 0) processes.push_back({static_cast<unsigned int>(getpid()), mine});
  return processes;
}

nvmlReturn_t initialize() {
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) state.machine = read_machine_config_from_environment();
  ++state.init_count;
  return NVML_SUCCESS;
}

nvmlReturn_t device_count(unsigned int* count) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  *count = static_cast<unsigned int>(state.machine.devices.size());
  return NVML_SUCCESS;
}

nvmlReturn_t handle_by_index(unsigned int index, nvmlDevice_t* device) {
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  if (index >= state.machine.devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  *device = handle_of(static_cast<int>(index));
  return NVML_SUCCESS;
}

nvmlReturn_t handle_by_pci_bus_id(const char* bus_id, nvmlDevice_t* device) {
  if (bus_id == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  const int index = device_from_pci_bus_id(bus_id, static_cast<int>(state.machine.devices.size()));
  if (index < 0) return NVML_ERROR_NOT_FOUND;
  *device = handle_of(index);
  return NVML_SUCCESS;
}

// Shared by every version of nvmlDeviceGetComputeRunningProcesses; `fill`
// writes one entry in the caller's struct layout.
template <typename Info, typename Fill>
nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int* count, Info* infos, Fill fill) {
  if (count == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  std::vector<ProcessUsage> processes;
  {
    NvmlState& state = nvml_state();
    std::lock_guard<std::mutex> lock(state.mutex);
    if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
    const int index = index_of(state.machine, device);
    if (index < 0) return NVML_ERROR_INVALID_ARGUMENT;
    processes = processes_on(state.machine, index);
  }
  const auto needed = static_cast<unsigned int>(processes.size());
  // Documented protocol: a too-small buffer (including *count == 0 to ask
  // for the size) reports the needed count with INSUFFICIENT_SIZE.
  if (*count < needed) {
    *count = needed;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  if (needed > 0 && infos == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned int entry = 0; entry < needed; ++entry) fill(infos[entry], processes[entry]);
  *count = needed;
  return NVML_SUCCESS;
}

void fill_v1(nvmlProcessInfo_v1_t& info, const ProcessUsage& usage) {
  info.pid = usage.pid;
  info.usedGpuMemory = usage.bytes;
}

void fill_v2(nvmlProcessInfo_t& info, const ProcessUsage& usage) {
  info.pid = usage.pid;
  info.usedGpuMemory = usage.bytes;
  // Outside MIG mode real NVML reports both instance ids as "not available".
  info.gpuInstanceId = static_cast<unsigned int>(NVML_VALUE_NOT_AVAILABLE);
  info.computeInstanceId = static_cast<unsigned int>(NVML_VALUE_NOT_AVAILABLE);
}

const char* error_text(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
  }
}

}  // namespace

FAKE_NVML_EXPORT nvmlReturn_t nvmlInit(void) { return initialize(); }

FAKE_NVML_EXPORT nvmlReturn_t nvmlInit_v2(void) { return initialize(); }

FAKE_NVML_EXPORT nvmlReturn_t nvmlShutdown(void) {
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  --state.init_count;
  return NVML_SUCCESS;
}

FAKE_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t result) { return error_text(result); }

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int* deviceCount) { return device_count(deviceCount); }

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount) { return device_count(deviceCount); }

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return handle_by_index(index, device);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  return handle_by_index(index, device);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* pciBusId, nvmlDevice_t* device) {
  return handle_by_pci_bus_id(pciBusId, device);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* pciBusId, nvmlDevice_t* device) {
  return handle_by_pci_bus_id(pciBusId, device);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  if (memory == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  NvmlState& state = nvml_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.init_count == 0) return NVML_ERROR_UNINITIALIZED;
  const int index = index_of(state.machine, device);
  if (index < 0) return NVML_ERROR_INVALID_ARGUMENT;
  const DeviceConfig& config = state.machine.devices[static_cast<std::size_t>(index)];
  const unsigned long long used = config.other_bytes + this_process_bytes(index);
  memory->total = config.total_bytes;
  memory->used = used;
  memory->free = used >= config.total_bytes ? 0 : config.total_bytes - used;
  return NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int* infoCount,
                                                                   nvmlProcessInfo_v1_t* infos) {
  return running_processes(device, infoCount, infos, fill_v1);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int* infoCount,
                                                                      nvmlProcessInfo_v2_t* infos) {
  return running_processes(device, infoCount, infos, fill_v2);
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int* infoCount,
                                                                      nvmlProcessInfo_t* infos) {
  return running_processes(device, infoCount, infos, fill_v2);
}

// ------------------------------------------------------------ asked for at start-up, answered plainly

// PyTorch's DriverAPI asserts that these resolve whenever NVML loads.
FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* cudaDriverVersion) {
  if (cudaDriverVersion == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *cudaDriverVersion = 13000;  // what the simulated driver's cuDriverGetVersion says
  return NVML_SUCCESS;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* cudaDriverVersion) {
  return nvmlSystemGetCudaDriverVersion_v2(cudaDriverVersion);
}

// The simulated devices have no NVLink and no fabric.
FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t, unsigned int, void*) {
  return NVML_ERROR_NOT_SUPPORTED;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t, unsigned int, void*) {
  return NVML_ERROR_NOT_SUPPORTED;
}

FAKE_NVML_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t, void*) { return NVML_ERROR_NOT_SUPPORTED; }
