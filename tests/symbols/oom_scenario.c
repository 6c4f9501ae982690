// Runs out of memory on the simulated device, from a function of its own,
// built with debug information: the report of its trace must name this
// file and the line of the allocating call (marked below), and its copies
// (stripped, with the debug information split off, moved, rebuilt) must
// read as symbols_scenarios.py expects. Built twice: OOMTRACE_REBUILT
// shifts the code, which gives the binary another build-id.
#include <stddef.h>
#include <stdio.h>

#include <cuda_runtime_api.h>

#ifdef OOMTRACE_REBUILT
// A later edit of the program: every line below moves down.
int rebuilt_marker = 1;


#endif

// Not static: with -rdynamic the dynamic symbol table names it, which is
// all a copy stripped of every other table keeps.
int request_whole_device(size_t bytes) {
  void* pointer = NULL;
  cudaError_t status = cudaMalloc(&pointer, bytes);  // symbols-test: allocating call
  if (status == cudaSuccess) cudaFree(pointer);
  return status;
}

int main(void) {
  // Far beyond the simulated device of any test: exceeds_capacity.
  int status = request_whole_device((size_t)64 << 30);
  printf("cudaMalloc returned %d\n", status);
  return status == cudaSuccess ? 1 : 0;
}
