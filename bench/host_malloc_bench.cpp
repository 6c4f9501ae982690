// The anchor: a host malloc+free pair 22 frames deep, run bare and under
// heaptrack by overhead_table, to compare what a host-memory profiler people
// already accept costs per pair with what oomtrace costs per CUDA pair.
#include <benchmark/benchmark.h>

#include <cstdlib>

namespace {

__attribute__((noinline)) void at_depth(int depth) {
  if (depth <= 1) {
    void* ptr = std::malloc(64);
    benchmark::DoNotOptimize(ptr);
    std::free(ptr);
  } else {
    at_depth(depth - 1);
  }
  benchmark::ClobberMemory();
}

void host_malloc_free_pair(benchmark::State& state) {
  for (auto _ : state) at_depth(22);
}

}  // namespace

BENCHMARK(host_malloc_free_pair)->UseRealTime();
BENCHMARK_MAIN();
