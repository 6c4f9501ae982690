// Configuration read from the environment at first use, without the
// test-only reset. These cases run in a process of their own (ctest
// fake_cuda_selftest_environment) started with:
//   FAKE_CUDA_DEVICES=2 FAKE_CUDA_TOTAL_MIB=1024 FAKE_CUDA_OTHER_MIB=0,256
//   FAKE_CUDA_CONTEXT_MIB=64 FAKE_CUDA_OTHER_PID=31337 FAKE_CUDA_NAME="Env GPU"
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "fake_cuda_test_support.h"
#include "fake_nvml_api.h"

using namespace fake_cuda_test;

TEST_CASE("the driver reads FAKE_CUDA_* once, at first use", "[env]") {
  int count = 0;
  REQUIRE(cuDeviceGetCount(&count) == CUDA_SUCCESS);
  CHECK(count == 2);
  char name[32] = {};
  REQUIRE(cuDeviceGetName(name, sizeof name, 0) == CUDA_SUCCESS);
  CHECK(std::string(name) == "Env GPU");

  REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);
  std::size_t free = 0, total = 0;
  REQUIRE(cuMemGetInfo(&free, &total) == CUDA_SUCCESS);
  CHECK(total == 1024 * kMiB);
  CHECK(free == (1024 - 256 - 64) * kMiB);

  // Later changes are not seen: the configuration was read once.
  setenv("FAKE_CUDA_TOTAL_MIB", "2048", 1);
  REQUIRE(cuDeviceTotalMem(&total, 0) == CUDA_SUCCESS);
  CHECK(total == 1024 * kMiB);
  setenv("FAKE_CUDA_TOTAL_MIB", "1024", 1);
  cuCtxSetCurrent(nullptr);
}

TEST_CASE("NVML sees the same machine", "[env]") {
  REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);  // charges the 64 MiB context
  REQUIRE(nvmlInit_v2() == NVML_SUCCESS);
  nvmlDevice_t device = nullptr;
  REQUIRE(nvmlDeviceGetHandleByIndex_v2(1, &device) == NVML_SUCCESS);
  nvmlProcessInfo_v1_t infos[2] = {};
  unsigned int count = 2;
  REQUIRE(nvmlDeviceGetComputeRunningProcesses(device, &count, infos) == NVML_SUCCESS);
  REQUIRE(count == 2);
  CHECK(infos[0].pid == 31337);
  CHECK(infos[0].usedGpuMemory == 256 * kMiB);
  CHECK(infos[1].pid == static_cast<unsigned int>(getpid()));
  CHECK(infos[1].usedGpuMemory == 64 * kMiB);
  nvmlShutdown();
  cuCtxSetCurrent(nullptr);
}
