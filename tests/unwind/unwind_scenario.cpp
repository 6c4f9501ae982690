// A CUDA program whose allocating calls sit under frames without frame
// pointers (-fomit-frame-pointer) and a qsort callback in libc; run by
// unwind_scenario.py under `oomtrace run --simulate-gpu`.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>

extern "C" {

__attribute__((noinline)) void* unwind_scenario_allocate(size_t bytes) {
  void* block = nullptr;
  if (cudaMalloc(&block, bytes) != cudaSuccess) {
    std::fprintf(stderr, "unwind_scenario: cudaMalloc failed\n");
    std::exit(90);
  }
  asm volatile("" : : "r"(block) : "memory");
  return block;
}

__attribute__((noinline)) void unwind_scenario_load_layers(int layers) {
  for (int i = 0; i < layers; ++i) unwind_scenario_allocate(size_t{64} << 20);
  asm volatile("" ::: "memory");
}

static int g_sorted_allocations = 0;

int unwind_scenario_compare(const void* left, const void* right) {
  if (g_sorted_allocations < 2) {
    ++g_sorted_allocations;
    unwind_scenario_allocate(size_t{32} << 20);
  }
  int a = *static_cast<const int*>(left), b = *static_cast<const int*>(right);
  return (a > b) - (a < b);
}

__attribute__((noinline)) void unwind_scenario_sort_and_allocate() {
  int values[16];
  for (int i = 0; i < 16; ++i) values[i] = (i * 7) % 16;
  std::qsort(values, 16, sizeof values[0], &unwind_scenario_compare);
  asm volatile("" ::: "memory");
}

}  // extern "C"

int main() {
  unwind_scenario_load_layers(3);
  unwind_scenario_sort_and_allocate();
  std::puts("unwind_scenario: done, blocks left allocated");
  return 0;
}
