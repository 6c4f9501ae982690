// The demonstration behind scripts/demo.sh: a training loop on the simulated
// GPU that doubles its batch size each step until the activations no longer
// fit, and dies of the out-of-memory like a real job would.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr size_t kMiB = 1 << 20;

void* allocate_or_die(size_t bytes, const char* what) {
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, bytes);
  if (result != cudaSuccess) {
    std::fprintf(stderr, "RuntimeError: CUDA error: out of memory (allocating %s, %zu MiB): %s\n",
                 what, bytes / kMiB, cudaGetErrorString(result));
    std::exit(1);
  }
  return ptr;
}

}  // namespace

int main() {
  allocate_or_die(2048 * kMiB, "weights");
  allocate_or_die(4096 * kMiB, "optimizer state");
  for (size_t batch = 8;; batch *= 2) {
    std::printf("step with batch size %zu\n", batch);
    std::fflush(stdout);
    std::vector<void*> activations;
    for (int layer = 0; layer < 12; ++layer) {
      activations.push_back(allocate_or_die(batch * 12 * kMiB, "activations"));
    }
    for (void* ptr : activations) cudaFree(ptr);
  }
}
