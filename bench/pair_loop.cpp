// Exactly N cudaMalloc+cudaFree pairs issued 20 frames deep, then exit: the
// program the instruction counts (bench/callgrind_pairs.py) and the cost of
// the report at exit (bench/exit_report_cost.py) run under the library.
// Unlike Google Benchmark, the count is fixed, so two runs of different
// lengths give the instructions of one pair by difference, startup excluded.
//
//   pair_loop PAIRS [--print-exit-start]
//
// --print-exit-start prints CLOCK_MONOTONIC in ns just before exit(), so the
// caller can time what happens after: the library's report at exit.
#include <cuda_runtime_api.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr size_t kPairBytes = 2 << 20;
constexpr int kStackDepth = 20;

__attribute__((noinline)) void allocate_and_free() {
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, kPairBytes) != cudaSuccess) std::abort();
  cudaFree(ptr);
}

__attribute__((noinline)) void at_depth(int depth) {
  if (depth <= 1) {
    allocate_and_free();
  } else {
    at_depth(depth - 1);
  }
  asm volatile("" ::: "memory");  // keeps the frames: no tail call
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: pair_loop PAIRS [--print-exit-start]\n");
    return 2;
  }
  long pairs = std::strtol(argv[1], nullptr, 10);
  bool print_exit_start = argc > 2 && std::strcmp(argv[2], "--print-exit-start") == 0;
  for (long i = 0; i < pairs; ++i) at_depth(kStackDepth);
  if (print_exit_start) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    std::printf("%lld\n", static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec);
    std::fflush(stdout);
  }
  return 0;
}
