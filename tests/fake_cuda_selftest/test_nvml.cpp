// Fake NVML: devices, memory info and the compute process list.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>

#include "fake_cuda_test_support.h"
#include "fake_nvml_api.h"

using namespace fake_cuda_test;

namespace {

// nvmlInit for the duration of a test, paired with nvmlShutdown.
struct NvmlSession {
  NvmlSession() { REQUIRE(nvmlInit_v2() == NVML_SUCCESS); }
  ~NvmlSession() { nvmlShutdown(); }
};

nvmlDevice_t device_handle(unsigned int index) {
  nvmlDevice_t device = nullptr;
  REQUIRE(nvmlDeviceGetHandleByIndex_v2(index, &device) == NVML_SUCCESS);
  return device;
}

}  // namespace

TEST_CASE("NVML must be initialized", "[nvml]") {
  FakeMachine machine;
  unsigned int count = 0;
  CHECK(nvmlDeviceGetCount_v2(&count) == NVML_ERROR_UNINITIALIZED);
  CHECK(nvmlShutdown() == NVML_ERROR_UNINITIALIZED);
  CHECK(std::string(nvmlErrorString(NVML_ERROR_INSUFFICIENT_SIZE)) == "Insufficient Size");
}

TEST_CASE("NVML enumerates the fake devices", "[nvml]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "3"}});
  NvmlSession session;
  unsigned int count = 0;
  REQUIRE(nvmlDeviceGetCount_v2(&count) == NVML_SUCCESS);
  CHECK(count == 3);
  nvmlDevice_t device = nullptr;
  CHECK(nvmlDeviceGetHandleByIndex_v2(3, &device) == NVML_ERROR_INVALID_ARGUMENT);

  char bus_id[32] = {};
  REQUIRE(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, 2) == CUDA_SUCCESS);
  REQUIRE(nvmlDeviceGetHandleByPciBusId_v2(bus_id, &device) == NVML_SUCCESS);
  CHECK(device == device_handle(2));
  REQUIRE(nvmlDeviceGetHandleByPciBusId_v2("0000:12:00.0", &device) == NVML_SUCCESS);  // short domain
  CHECK(device == device_handle(2));
  CHECK(nvmlDeviceGetHandleByPciBusId_v2("00000000:13:00.0", &device) == NVML_ERROR_NOT_FOUND);
}

TEST_CASE("NVML memory info and process list follow the fake driver", "[nvml]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"},
                       {"FAKE_CUDA_TOTAL_MIB", "8192"},
                       {"FAKE_CUDA_OTHER_MIB", "0,4096"},
                       {"FAKE_CUDA_OTHER_PID", "777"},
                       {"FAKE_CUDA_CONTEXT_MIB", "100"}});
  NvmlSession session;
  const nvmlDevice_t device1 = device_handle(1);

  SECTION("before this process uses the device only the other process is listed") {
    unsigned int count = 0;
    CHECK(nvmlDeviceGetComputeRunningProcesses(device1, &count, nullptr) == NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(count == 1);
    nvmlProcessInfo_v1_t info{};
    count = 1;
    REQUIRE(nvmlDeviceGetComputeRunningProcesses(device1, &count, &info) == NVML_SUCCESS);
    CHECK(info.pid == 777);
    CHECK(info.usedGpuMemory == 4096 * kMiB);

    count = 0;
    CHECK(nvmlDeviceGetComputeRunningProcesses(device_handle(0), &count, nullptr) == NVML_SUCCESS);
    CHECK(count == 0);
  }

  SECTION("this process appears with its memory and context overhead") {
    REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);
    CUdeviceptr pointer = 0;
    REQUIRE(cuMemAlloc(&pointer, 9 * kMiB) == CUDA_SUCCESS);  // rounds to 10 MiB
    const unsigned long long mine = (10 + 100) * kMiB;

    nvmlProcessInfo_t infos[2] = {};
    unsigned int count = 1;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(device1, &count, infos) == NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(count == 2);
    REQUIRE(nvmlDeviceGetComputeRunningProcesses_v3(device1, &count, infos) == NVML_SUCCESS);
    CHECK(infos[0].pid == 777);
    CHECK(infos[0].usedGpuMemory == 4096 * kMiB);
    CHECK(infos[1].pid == static_cast<unsigned int>(getpid()));
    CHECK(infos[1].usedGpuMemory == mine);
    CHECK(infos[1].gpuInstanceId == 0xFFFFFFFFu);

    nvmlMemory_t memory{};
    REQUIRE(nvmlDeviceGetMemoryInfo(device1, &memory) == NVML_SUCCESS);
    CHECK(memory.total == 8192 * kMiB);
    CHECK(memory.used == 4096 * kMiB + mine);
    CHECK(memory.free == memory.total - memory.used);

    std::size_t driver_free = 0, driver_total = 0;
    REQUIRE(cuMemGetInfo(&driver_free, &driver_total) == CUDA_SUCCESS);
    CHECK(driver_free == memory.free);  // the driver and NVML agree
    cuCtxSetCurrent(nullptr);
  }
}
