// Helpers shared by the fake CUDA self-test cases.
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>
#include <dlfcn.h>

#include <cstddef>
#include <cstdlib>
#include <initializer_list>
#include <utility>

#include "fake_cuda_test_hooks.h"

namespace fake_cuda_test {

// Pre-CUDA-3.2 ABI, which cudaTypedefs.h only declares for NVIDIA's own
// build: 32-bit device pointers and sizes.
using LegacyDevicePtr = unsigned int;
using PfnLegacyMemAlloc = CUresult(CUDAAPI*)(LegacyDevicePtr* dptr, unsigned int bytesize);
using PfnLegacyMemFree = CUresult(CUDAAPI*)(LegacyDevicePtr dptr);
using PfnLegacyDeviceTotalMem = CUresult(CUDAAPI*)(unsigned int* bytes, CUdevice dev);

inline constexpr std::size_t kMiB = std::size_t{1} << 20;

// Start of device 0's fake address window (fake_driver_state.h); device d
// starts d TiB higher.
inline constexpr CUdeviceptr kDevice0Base = 0x3000'0000'0000;
inline constexpr CUdeviceptr kDeviceWindowSpan = 0x0100'0000'0000;

inline constexpr const char* kFakeVariables[] = {
    "FAKE_CUDA_DEVICES",     "FAKE_CUDA_TOTAL_MIB",  "FAKE_CUDA_OTHER_MIB",
    "FAKE_CUDA_CONTEXT_MIB", "FAKE_CUDA_OTHER_PID", "FAKE_CUDA_NAME",
    "FAKE_CUDA_POOL_CHUNK_MIB",
};

// Sets up the simulated machine for one test case: exactly the given
// FAKE_CUDA_* variables are set and the driver is reset to re-read them. On
// destruction the variables are cleared and the driver reset again, so every
// case starts from a fresh machine with default settings.
class FakeMachine {
 public:
  using Variable = std::pair<const char*, const char*>;

  explicit FakeMachine(std::initializer_list<Variable> variables = {}) {
    clear_variables();
    for (const auto& [name, value] : variables) setenv(name, value, 1);
    fake_cuda_reset_for_tests();
  }
  ~FakeMachine() {
    clear_variables();
    fake_cuda_reset_for_tests();
  }
  FakeMachine(const FakeMachine&) = delete;
  FakeMachine& operator=(const FakeMachine&) = delete;

 private:
  static void clear_variables() {
    for (const char* name : kFakeVariables) unsetenv(name);
  }
};

// Address of an exported symbol of the already-loaded fake driver, as the
// dynamic linker resolves it.
inline void* driver_symbol(const char* name) {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (driver == nullptr) return nullptr;
  void* symbol = dlsym(driver, name);
  dlclose(driver);
  return symbol;
}

template <typename Pfn>
Pfn driver_function(const char* exported_name) {
  return reinterpret_cast<Pfn>(driver_symbol(exported_name));
}

inline std::size_t free_bytes() {
  std::size_t free = 0, total = 0;
  cuMemGetInfo(&free, &total);
  return free;
}

inline CUcontext primary_context(CUdevice device) {
  CUcontext context = nullptr;
  cuDevicePrimaryCtxRetain(&context, device);
  return context;
}

inline CUdeviceptr device_base(int device) {
  return kDevice0Base + static_cast<CUdeviceptr>(device) * kDeviceWindowSpan;
}

}  // namespace fake_cuda_test
