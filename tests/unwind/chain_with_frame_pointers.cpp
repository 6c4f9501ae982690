// Built with -fno-omit-frame-pointer (CMakeLists.txt).
#include "tests/unwind/unwind_chains.h"

namespace unwind_test {

__attribute__((noinline)) int chain_with_frame_pointers(int depth, Probe probe, void* context) {
  volatile int local = depth;
  int result = depth <= 1 ? probe(context) : chain_without_frame_pointers(depth - 1, probe, context);
  asm volatile("" : : "r"(result) : "memory");  // keeps the call a call, not a jump
  return result + local;
}

}  // namespace unwind_test
