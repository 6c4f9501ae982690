// The cached walk allocates nothing once its rules are known: every
// malloc, calloc and realloc of this program is counted here (its own
// definitions take the place of libc's, then call libc's), and a warm walk
// must leave the count as it found it. Not built under sanitizers, whose
// runtimes own malloc.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>

#include "interpose/stacks/cfi_unwinder.h"
#include "tests/unwind/unwind_chains.h"

extern "C" void* __libc_malloc(size_t size);
extern "C" void* __libc_calloc(size_t count, size_t size);
extern "C" void* __libc_realloc(void* pointer, size_t size);

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

extern "C" void* malloc(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
extern "C" void* calloc(size_t count, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
extern "C" void* realloc(void* pointer, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(pointer, size);
}

namespace stacks = oomtrace::interpose::stacks;

namespace {
constexpr int kCapacity = 128;

struct Walks {
  int repeats;
  int shortest = kCapacity;
};

int walk_repeatedly(void* context) {
  auto& walks = *static_cast<Walks*>(context);
  for (int i = 0; i < walks.repeats; ++i) {
    uintptr_t frames[kCapacity];
    int depth = stacks::cfi_backtrace(frames, kCapacity, nullptr);
    if (depth < walks.shortest) walks.shortest = depth;
  }
  return 1;
}

// One call site for the warm-up and the measured walks: the same stack.
__attribute__((noinline)) void walk_deep_chain(Walks& walks) {
  unwind_test::chain_without_frame_pointers(30, &walk_repeatedly, &walks);
  asm volatile("" ::: "memory");
}
}  // namespace

TEST_CASE("cfi: a walk whose rules are cached allocates nothing and interprets nothing") {
  // The count works: this malloc is seen.
  long before_probe = g_allocations.load();
  void* probe = malloc(16);
  CHECK(g_allocations.load() == before_probe + 1);
  free(probe);

  Walks rounds[2] = {{1}, {1000}};  // a warm-up, then the walks measured
  long allocations_before = 0;
  uint64_t computed_before = 0, fallbacks_before = 0;
  volatile int round_count = 2;  // not known to the compiler: the loop stays a loop
  for (int round = 0; round < round_count; ++round) {  // one call site: the same stack
    Walks& walks = rounds[round];
    allocations_before = g_allocations.load();
    computed_before = stacks::cfi_counters().rules_computed;
    fallbacks_before = stacks::cfi_counters().fallbacks;
    walk_deep_chain(walks);
  }
  long allocations = g_allocations.load() - allocations_before;
  CHECK(allocations == 0);
  CHECK(stacks::cfi_counters().rules_computed == computed_before);
  CHECK(stacks::cfi_counters().fallbacks == fallbacks_before);
  CHECK(rounds[1].shortest >= 30);
}
