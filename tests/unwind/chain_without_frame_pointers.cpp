// Built with -fomit-frame-pointer (CMakeLists.txt): rbp is an ordinary
// register here, so only the call-frame information describes these frames.
#include "tests/unwind/unwind_chains.h"

namespace unwind_test {

__attribute__((noinline)) int chain_without_frame_pointers(int depth, Probe probe, void* context) {
  volatile int local[3] = {depth, depth * 2, depth * 3};  // a frame of some size
  // rbp holds garbage during the call, as in code that uses it as an
  // ordinary register: a frame-pointer walk ends below here, and the frames
  // above are found only through the rule that says where rbp was saved.
  asm volatile("mov %0, %%rbp" : : "r"(uintptr_t{0x5a5a5a5a}) : "rbp");
  int result = depth <= 1 ? probe(context) : chain_with_frame_pointers(depth - 1, probe, context);
  asm volatile("" : : "r"(result) : "memory");  // keeps the call a call, not a jump
  return result + local[depth % 3];
}

}  // namespace unwind_test
