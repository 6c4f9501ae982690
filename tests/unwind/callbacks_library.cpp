// libunwind_test_callbacks.so: frames in another loaded object, built
// without frame pointers, between the test and its probe.
#include "tests/unwind/unwind_chains.h"

extern "C" __attribute__((visibility("default"), noinline)) int unwind_test_through_library(
    int depth, unwind_test::Probe probe, void* context) {
  volatile int local = depth;
  int result = depth <= 1 ? probe(context) : unwind_test_through_library(depth - 1, probe, context);
  asm volatile("" : : "r"(result) : "memory");  // keeps the call a call, not a jump
  return result + local;
}
