// libunwind_test_plugin.so: opened and closed by the tests at run time, to
// see the rule cache dropped once an object is unloaded.
#include "tests/unwind/unwind_chains.h"

extern "C" __attribute__((visibility("default"), noinline)) int unwind_test_plugin_call(unwind_test::Probe probe,
                                                                                         void* context) {
  volatile int local = 7;
  int result = probe(context);
  asm volatile("" : : "r"(result) : "memory");
  return result + local;
}
