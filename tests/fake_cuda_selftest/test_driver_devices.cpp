// Fake driver: device queries, error strings, primary contexts and the
// per-thread context stack.
#include <catch2/catch.hpp>

#include <cstring>
#include <thread>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

TEST_CASE("driver reports the configured devices", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}, {"FAKE_CUDA_TOTAL_MIB", "1000,2000"}, {"FAKE_CUDA_NAME", "Test GPU"}});

  CHECK(cuInit(0) == CUDA_SUCCESS);
  int version = 0;
  CHECK(cuDriverGetVersion(&version) == CUDA_SUCCESS);
  CHECK(version == 13000);

  int count = 0;
  REQUIRE(cuDeviceGetCount(&count) == CUDA_SUCCESS);
  CHECK(count == 2);
  CUdevice device = -1;
  CHECK(cuDeviceGet(&device, 1) == CUDA_SUCCESS);
  CHECK(device == 1);
  CHECK(cuDeviceGet(&device, 2) == CUDA_ERROR_INVALID_DEVICE);

  char name[64] = {};
  CHECK(cuDeviceGetName(name, sizeof name, 1) == CUDA_SUCCESS);
  CHECK(std::string(name) == "Test GPU");

  std::size_t total = 0;
  CHECK(cuDeviceTotalMem(&total, 0) == CUDA_SUCCESS);
  CHECK(total == 1000 * kMiB);
  CHECK(cuDeviceTotalMem(&total, 1) == CUDA_SUCCESS);
  CHECK(total == 2000 * kMiB);

  char bus_id[32] = {};
  CHECK(cuDeviceGetPCIBusId(bus_id, sizeof bus_id, 1) == CUDA_SUCCESS);
  CHECK(std::string(bus_id) == "00000000:11:00.0");

  int major = 0, minor = -1, sms = 0;
  CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0) == CUDA_SUCCESS);
  CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0) == CUDA_SUCCESS);
  CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0) == CUDA_SUCCESS);
  CHECK(major == 9);
  CHECK(minor == 0);
  CHECK(sms > 0);
}

TEST_CASE("a machine without devices fails cuInit", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "0"}});
  CHECK(cuInit(0) == CUDA_ERROR_NO_DEVICE);
  CUdeviceptr pointer = 0;
  CHECK(cuMemAlloc(&pointer, kMiB) == CUDA_ERROR_INVALID_CONTEXT);
}

TEST_CASE("legacy cuDeviceTotalMem clamps to 32 bits", "[driver]") {
  FakeMachine machine;  // 16 GiB does not fit an unsigned int
  auto legacy_total_mem = driver_function<PfnLegacyDeviceTotalMem>("cuDeviceTotalMem");
  REQUIRE(legacy_total_mem != nullptr);
  unsigned int total = 0;
  CHECK(legacy_total_mem(&total, 0) == CUDA_SUCCESS);
  CHECK(total == 0xFFFFFFFFu);
}

TEST_CASE("error names and strings", "[driver]") {
  const char* text = nullptr;
  CHECK(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &text) == CUDA_SUCCESS);
  CHECK(std::string(text) == "CUDA_ERROR_OUT_OF_MEMORY");
  CHECK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &text) == CUDA_SUCCESS);
  CHECK(std::string(text) == "out of memory");
  CHECK(cuGetErrorName(static_cast<CUresult>(123456), &text) == CUDA_ERROR_INVALID_VALUE);
  CHECK(text == nullptr);
}

TEST_CASE("primary contexts and the context stack", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}});
  CUcontext none = reinterpret_cast<CUcontext>(0x1);
  CHECK(cuCtxGetCurrent(&none) == CUDA_SUCCESS);
  CHECK(none == nullptr);
  CUdevice device = -1;
  CHECK(cuCtxGetDevice(&device) == CUDA_SUCCESS);
  CHECK(device == 0);  // no context: device 0 stands in

  const CUcontext context0 = primary_context(0);
  const CUcontext context1 = primary_context(1);
  REQUIRE(context0 != nullptr);
  REQUIRE(context1 != nullptr);
  CHECK(context0 != context1);
  CHECK(primary_context(1) == context1);  // one primary context per device

  CHECK(cuCtxSetCurrent(context1) == CUDA_SUCCESS);
  CHECK(cuCtxGetDevice(&device) == CUDA_SUCCESS);
  CHECK(device == 1);

  CHECK(cuCtxPushCurrent(context0) == CUDA_SUCCESS);
  CHECK(cuCtxGetDevice(&device) == CUDA_SUCCESS);
  CHECK(device == 0);
  CUcontext popped = nullptr;
  CHECK(cuCtxPopCurrent(&popped) == CUDA_SUCCESS);
  CHECK(popped == context0);
  CUcontext current = nullptr;
  CHECK(cuCtxGetCurrent(&current) == CUDA_SUCCESS);
  CHECK(current == context1);

  CHECK(cuCtxGetDevice_v2(&device, context0) == CUDA_SUCCESS);
  CHECK(device == 0);
  CHECK(cuCtxSynchronize() == CUDA_SUCCESS);

  CHECK(cuCtxSetCurrent(nullptr) == CUDA_SUCCESS);  // pops the only entry
  CHECK(cuCtxGetCurrent(&current) == CUDA_SUCCESS);
  CHECK(current == nullptr);
  CHECK(cuCtxPopCurrent(&popped) == CUDA_ERROR_INVALID_CONTEXT);
  CHECK(cuCtxSetCurrent(reinterpret_cast<CUcontext>(0x1234)) == CUDA_ERROR_INVALID_CONTEXT);

  CHECK(cuDevicePrimaryCtxRelease(1) == CUDA_SUCCESS);
  CHECK(cuDevicePrimaryCtxRelease(1) == CUDA_SUCCESS);
  CHECK(cuDevicePrimaryCtxRelease(1) == CUDA_ERROR_INVALID_CONTEXT);  // retained twice only
}

TEST_CASE("the current context is per thread", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}});
  REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);

  CUcontext seen_by_other_thread = reinterpret_cast<CUcontext>(0x1);
  CUdevice device_of_other_thread = -1;
  CUdeviceptr allocated_by_other_thread = 0;
  std::thread other([&] {
    cuCtxGetCurrent(&seen_by_other_thread);
    cuCtxGetDevice(&device_of_other_thread);
    cuMemAlloc(&allocated_by_other_thread, kMiB);  // lenient: lands on device 0
  });
  other.join();

  CHECK(seen_by_other_thread == nullptr);
  CHECK(device_of_other_thread == 0);
  CHECK(allocated_by_other_thread == device_base(0));
  CHECK(fake_cuda_process_used_bytes(0) == 2 * kMiB);

  CUdeviceptr mine = 0;
  REQUIRE(cuMemAlloc(&mine, kMiB) == CUDA_SUCCESS);
  CHECK(mine == device_base(1));
  CHECK(fake_cuda_process_used_bytes(1) == 2 * kMiB);
  cuCtxSetCurrent(nullptr);
}

TEST_CASE("context overhead is charged once the context is used", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}, {"FAKE_CUDA_TOTAL_MIB", "1024"}, {"FAKE_CUDA_CONTEXT_MIB", "300"}});
  CHECK(fake_cuda_process_context_bytes(0) == 0);
  CHECK(fake_cuda_process_context_bytes(1) == 0);

  REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_context_bytes(1) == 300 * kMiB);
  CHECK(fake_cuda_process_context_bytes(0) == 0);
  CHECK(free_bytes() == (1024 - 300) * kMiB);
  CHECK(fake_cuda_process_used_bytes(1) == 0);  // the overhead is reported separately
  cuCtxSetCurrent(nullptr);
}
