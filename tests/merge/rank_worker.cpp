// One rank of a pretend data-parallel job, for tests/merge: every rank holds
// about the same memory (weights plus a little that grows with the rank),
// except the rank named by MERGE_FAILING_RANK, which keeps allocating until
// the device is full and dies as a training job does on an out-of-memory.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr size_t kMiB = 1 << 20;

long env_number(const char* name, long fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtol(text, nullptr, 10) : fallback;
}

bool allocate(size_t bytes, std::vector<void*>& held) {
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, bytes) != cudaSuccess) return false;
  held.push_back(ptr);
  return true;
}

}  // namespace

int main() {
  long rank = env_number("RANK", -1);
  long failing = env_number("MERGE_FAILING_RANK", -2);
  std::vector<void*> held;
  // Weights and optimizer state: 2 GiB, then 32 MiB more per rank (uneven
  // buckets), well within the 10% the balance rule allows.
  size_t steady = 2048 * kMiB + static_cast<size_t>(rank < 0 ? 0 : rank) * 32 * kMiB;
  for (size_t done = 0; done < steady; done += 256 * kMiB) {
    if (!allocate(std::min<size_t>(256 * kMiB, steady - done), held)) {
      std::fprintf(stderr, "rank %ld: out of memory before the failing step\n", rank);
      return 3;
    }
  }
  if (rank == failing) {
    while (allocate(512 * kMiB, held)) {
    }
    std::fprintf(stderr, "rank %ld: RuntimeError: CUDA error: out of memory\n", rank);
    return 1;
  }
  for (void* ptr : held) cudaFree(ptr);
  std::printf("rank %ld done\n", rank);
  return 0;
}
