// liboomtrace.so dlopen()ed into a process, as `oomtrace attach` loads it,
// instead of preloaded: RTLD_NEXT from it then searches only its own
// dependencies, and the global scope may come to hold its own wrappers.
// Its wrappers must still reach the real functions (a wrapper taken for the
// real function would call itself until the stack ran out).
#include <catch2/catch.hpp>

#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <sys/stat.h>

namespace {

template <typename Function>
Function symbol_of(void* handle, const char* name) {
  auto function = reinterpret_cast<Function>(dlsym(handle, name));
  REQUIRE(function != nullptr);
  return function;
}

void* load(const char* path, int mode) {
  void* handle = dlopen(path, mode);
  INFO(dlerror());
  REQUIRE(handle != nullptr);
  return handle;
}

}  // namespace

TEST_CASE("the wrappers of a dlopen()ed library call the real functions", "[attach]") {
  // Anything the library writes goes to the test's folder (set by CTest).
  if (const char* dir = getenv("OOMTRACE_DIR")) mkdir(dir, 0755);
  void* driver = load(FAKE_CUDA_DIR "/libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  void* library = load(OOMTRACE_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  // Loaded after the library and privately, as a Python extension loads
  // libcudart: neither RTLD_NEXT nor the global scope finds it.
  void* runtime = load(FAKE_CUDA_DIR "/libcudart.so.13", RTLD_NOW | RTLD_LOCAL);

  auto wrapped_malloc = symbol_of<decltype(&cudaMalloc)>(library, "cudaMalloc");
  REQUIRE(reinterpret_cast<void*>(wrapped_malloc) != dlsym(runtime, "cudaMalloc"));
  void* device_memory = nullptr;
  CHECK(wrapped_malloc(&device_memory, 1 << 20) == cudaSuccess);
  CHECK(device_memory != nullptr);

  // Made global: a lookup in the global scope now meets the library's own
  // cudaFree first, and must pass over it.
  REQUIRE(dlopen(OOMTRACE_LIBRARY_PATH, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == library);
  auto wrapped_free = symbol_of<decltype(&cudaFree)>(library, "cudaFree");
  CHECK(wrapped_free(device_memory) == cudaSuccess);

  // A driver function: found through the driver's own handle.
  auto wrapped_alloc = symbol_of<decltype(&cuMemAlloc_v2)>(library, "cuMemAlloc_v2");
  REQUIRE(reinterpret_cast<void*>(wrapped_alloc) != dlsym(driver, "cuMemAlloc_v2"));
  CUdeviceptr address = 0;
  CHECK(wrapped_alloc(&address, 1 << 20) == CUDA_SUCCESS);
  CHECK(address != 0);
  CHECK(symbol_of<decltype(&cuMemFree_v2)>(library, "cuMemFree_v2")(address) == CUDA_SUCCESS);
}
