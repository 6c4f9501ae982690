// Loaded by attach_target after the attach: its call to cudaMalloc goes
// through its own import table, which only the dlopen hook can patch.
#include <cuda_runtime_api.h>

extern "C" int late_module_allocate(size_t bytes) {
  void* block = nullptr;
  return cudaMalloc(&block, bytes);
}
