// A dlopen()ed module whose thread_local block has the size of the simulated
// driver's (40 bytes): glibc allocates it with malloc() on the first access
// from each thread, through __tls_get_addr.
#include <cstdint>

namespace {
thread_local std::uintptr_t t_words[5];
}

extern "C" __attribute__((visibility("default"))) void* dynamic_tls_block() {
  t_words[0] = 1;
  return t_words;
}
