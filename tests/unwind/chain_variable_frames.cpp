// Built with -fomit-frame-pointer: the compiler still sets up rbp for these
// frames, since their size is known only at run time.
#include <alloca.h>

#include <cstring>

#include "tests/unwind/unwind_chains.h"

namespace unwind_test {

__attribute__((noinline)) int chain_through_alloca(int depth, int bytes, Probe probe, void* context) {
  auto* scratch = static_cast<volatile char*>(alloca(static_cast<size_t>(bytes)));
  scratch[0] = static_cast<char>(depth);
  scratch[bytes - 1] = 1;
  int result = depth <= 1 ? probe(context) : chain_through_variable_array(depth - 1, bytes + 24, probe, context);
  asm volatile("" : : "r"(result) : "memory");  // keeps the call a call, not a jump
  return result + scratch[0] + scratch[bytes - 1];
}

__attribute__((noinline)) int chain_through_variable_array(int depth, int bytes, Probe probe, void* context) {
  volatile char scratch[bytes];
  scratch[0] = static_cast<char>(depth);
  int result = depth <= 1 ? probe(context) : chain_through_alloca(depth - 1, bytes + 40, probe, context);
  asm volatile("" : : "r"(result) : "memory");  // keeps the call a call, not a jump
  return result + scratch[0];
}

}  // namespace unwind_test
