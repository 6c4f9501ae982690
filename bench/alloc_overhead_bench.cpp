// What liboomtrace.so adds to each intercepted call, measured on the
// simulated device. The same binary runs three times (see overhead_table.cpp):
// without the library, with it and OOMTRACE_STACKS=0, with it and native
// stacks; the difference per iteration is the library's cost.
//
// Each pair is issued from about 20 frames deep, like a framework's
// allocator called from a model, so stack capture pays for a realistic depth.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdlib>

namespace {

constexpr size_t kPairBytes = 2 << 20;
constexpr int kStackDepth = 20;

template <typename Pair>
__attribute__((noinline)) void at_depth(int depth, Pair& pair) {
  if (depth <= 1) {
    pair();
  } else {
    at_depth(depth - 1, pair);
  }
  benchmark::ClobberMemory();  // keeps the frames: no tail call
}

void malloc_free_pair(benchmark::State& state) {
  auto pair = [] {
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, kPairBytes) != cudaSuccess) std::abort();
    cudaFree(ptr);
  };
  for (auto _ : state) at_depth(kStackDepth, pair);
}

void malloc_async_pair(benchmark::State& state) {
  cudaStream_t stream = nullptr;
  auto pair = [&stream] {
    void* ptr = nullptr;
    if (cudaMallocAsync(&ptr, kPairBytes, stream) != cudaSuccess) std::abort();
    cudaFreeAsync(ptr, stream);
  };
  for (auto _ : state) at_depth(kStackDepth, pair);
}

}  // namespace

BENCHMARK(malloc_free_pair)->UseRealTime();
BENCHMARK(malloc_async_pair)->Threads(1)->UseRealTime();
BENCHMARK(malloc_async_pair)->Threads(8)->UseRealTime();

BENCHMARK_MAIN();
