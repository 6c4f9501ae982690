// The cached CFI unwinder (interpose/stacks/cfi_unwinder.h) against
// libgcc's _Unwind_Backtrace, taken right after it from the same function:
// the two stacks must be equal frame for frame, the first return address
// (into that function, from two different calls) aside. The counters say
// whether the cached walk did the work or handed it to libgcc.
#include <dlfcn.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "interpose/stacks/cfi_unwinder.h"
#include "tests/unwind/unwind_chains.h"

namespace stacks = oomtrace::interpose::stacks;

namespace {

constexpr int kCapacity = 256;

struct BothStacks {
  std::vector<uintptr_t> cfi;
  std::vector<uintptr_t> libgcc;
};

// Both stacks, taken without allocating (also from a signal handler).
struct RawStacks {
  uintptr_t cfi[kCapacity];
  int cfi_depth;
  uintptr_t libgcc[kCapacity];
  int libgcc_depth;

  BothStacks copied() const {
    return {std::vector<uintptr_t>(cfi, cfi + cfi_depth), std::vector<uintptr_t>(libgcc, libgcc + libgcc_depth)};
  }
};

__attribute__((noinline)) void capture_raw(RawStacks& raw) {
  raw.cfi_depth = stacks::cfi_backtrace(raw.cfi, kCapacity, nullptr);
  raw.libgcc_depth = stacks::libgcc_backtrace(raw.libgcc, kCapacity, nullptr);
}

__attribute__((noinline)) void capture_both(BothStacks& both) {
  RawStacks raw;
  capture_raw(raw);
  both = raw.copied();
}

int capture_probe(void* context) {
  capture_both(*static_cast<BothStacks*>(context));
  return 1;
}

std::string object_of(uintptr_t address) {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(address - 1), &info) || !info.dli_fname) return "?";
  return info.dli_fname;
}

bool has_frame_in(const std::vector<uintptr_t>& frames, const char* object) {
  for (uintptr_t frame : frames) {
    if (object_of(frame).find(object) != std::string::npos) return true;
  }
  return false;
}

// True when some frame returns into `function` (within its first bytes).
bool has_frame_in_function(const std::vector<uintptr_t>& frames, const void* function, uintptr_t size = 512) {
  auto start = reinterpret_cast<uintptr_t>(function);
  for (uintptr_t frame : frames) {
    if (frame > start && frame - start < size) return true;
  }
  return false;
}

std::vector<uintptr_t> without_first(const std::vector<uintptr_t>& frames) {
  return frames.empty() ? frames : std::vector<uintptr_t>(frames.begin() + 1, frames.end());
}

void check_same_stacks(const BothStacks& both, size_t at_least) {
  REQUIRE(both.cfi.size() >= at_least);
  REQUIRE(both.libgcc.size() == both.cfi.size());
  // Two calls from capture_both: near each other, not equal.
  CHECK(both.cfi[0] != both.libgcc[0]);
  CHECK((both.cfi[0] > both.libgcc[0] ? both.cfi[0] - both.libgcc[0] : both.libgcc[0] - both.cfi[0]) < 256);
  CHECK(without_first(both.cfi) == without_first(both.libgcc));
}

uint64_t fallbacks() { return stacks::cfi_counters().fallbacks; }
uint64_t rules_computed() { return stacks::cfi_counters().rules_computed; }

}  // namespace

namespace {
__attribute__((noinline)) void capture_deep_chain(BothStacks& both) {
  unwind_test::chain_with_frame_pointers(40, &capture_probe, &both);
  asm volatile("" ::: "memory");
}
}  // namespace

TEST_CASE("cfi: a deep chain through code with and without frame pointers, then again from the cache") {
  uint64_t fallbacks_before = fallbacks();
  BothStacks rounds[2];
  uint64_t computed_before_round[2] = {};
  volatile int round_count = 2;  // not known to the compiler: the loop stays a loop
  for (int round = 0; round < round_count; ++round) {  // one call site: the same stack twice
    computed_before_round[round] = rules_computed();
    capture_deep_chain(rounds[round]);
  }
  for (const BothStacks& both : rounds) check_same_stacks(both, 40);
  CHECK(has_frame_in_function(rounds[0].cfi,
                              reinterpret_cast<const void*>(&unwind_test::chain_without_frame_pointers)));
  CHECK(rounds[1].cfi == rounds[0].cfi);
  CHECK(rules_computed() == computed_before_round[1]);  // the second walk: every rule from the cache
  CHECK(fallbacks() == fallbacks_before);
}

TEST_CASE("cfi: a chain starting without frame pointers, odd depth") {
  uint64_t fallbacks_before = fallbacks();
  BothStacks both;
  unwind_test::chain_without_frame_pointers(33, &capture_probe, &both);
  check_same_stacks(both, 33);
  CHECK(fallbacks() == fallbacks_before);
}

namespace {
BothStacks* g_qsort_stacks = nullptr;

int compare_and_capture(const void* left, const void* right) {
  if (g_qsort_stacks) {
    capture_both(*g_qsort_stacks);
    g_qsort_stacks = nullptr;
  }
  int a = *static_cast<const int*>(left), b = *static_cast<const int*>(right);
  return (a > b) - (a < b);
}

int sort_with_capture(void* context) {
  int values[64];
  for (int i = 0; i < 64; ++i) values[i] = (i * 37) % 64;
  g_qsort_stacks = static_cast<BothStacks*>(context);
  std::qsort(values, 64, sizeof values[0], &compare_and_capture);
  return values[0];
}
}  // namespace

TEST_CASE("cfi: through libc, from a qsort callback") {
  uint64_t fallbacks_before = fallbacks();
  BothStacks both;
  unwind_test::chain_without_frame_pointers(6, &sort_with_capture, &both);
  check_same_stacks(both, 8);
  CHECK(has_frame_in(without_first(both.cfi), "libc.so"));
  CHECK(fallbacks() == fallbacks_before);
}

TEST_CASE("cfi: through a shared library built without frame pointers") {
  uint64_t fallbacks_before = fallbacks();
  BothStacks both;
  unwind_test_through_library(12, &capture_probe, &both);
  check_same_stacks(both, 12);
  CHECK(has_frame_in(both.cfi, "libunwind_test_callbacks.so"));
  CHECK(fallbacks() == fallbacks_before);
}

TEST_CASE("cfi: frames sized at run time (alloca, variable-length arrays)") {
  uint64_t fallbacks_before = fallbacks();
  BothStacks both;
  unwind_test::chain_through_alloca(15, 100, &capture_probe, &both);
  check_same_stacks(both, 15);
  CHECK(fallbacks() == fallbacks_before);
}

namespace {
// Skips the test program's own frames: as liboomtrace.so skips its own.
bool inside_test_program(const void* address) {
  return object_of(reinterpret_cast<uintptr_t>(address)).find("unwind_tests") != std::string::npos;
}

struct FilteredStacks {
  std::vector<uintptr_t> cfi;
  std::vector<uintptr_t> libgcc;
};

int capture_filtered(void* context) {
  auto& both = *static_cast<FilteredStacks*>(context);
  uintptr_t frames[kCapacity];
  both.cfi.assign(frames, frames + stacks::cfi_backtrace(frames, kCapacity, &inside_test_program));
  both.libgcc.assign(frames, frames + stacks::libgcc_backtrace(frames, kCapacity, &inside_test_program));
  return 1;
}
}  // namespace

TEST_CASE("cfi: leading frames of one object left out, as liboomtrace.so leaves out its own") {
  FilteredStacks both;
  unwind_test_through_library(5, &capture_filtered, &both);
  REQUIRE(both.cfi.size() > 5);
  CHECK(object_of(both.cfi[0]).find("libunwind_test_callbacks.so") != std::string::npos);
  CHECK(both.cfi == both.libgcc);
  CHECK(has_frame_in(both.cfi, "unwind_tests"));  // only the leading ones are left out
}

namespace {
RawStacks g_signal_stacks;

void capture_in_handler(int) { capture_raw(g_signal_stacks); }

int raise_signal(void*) {
  raise(SIGUSR1);
  return 1;
}

void check_stack_through_signal_frame(bool on_alternate_stack) {
  struct sigaction action {};
  action.sa_handler = &capture_in_handler;
  action.sa_flags = on_alternate_stack ? SA_ONSTACK : 0;
  struct sigaction previous {};
  REQUIRE(sigaction(SIGUSR1, &action, &previous) == 0);
  g_signal_stacks.cfi_depth = g_signal_stacks.libgcc_depth = 0;
  uint64_t fallbacks_before = fallbacks();
  unwind_test::chain_without_frame_pointers(7, &raise_signal, nullptr);
  sigaction(SIGUSR1, &previous, nullptr);
  BothStacks both = g_signal_stacks.copied();
  check_same_stacks(both, 10);
  // Past the signal frame into the code that raised it: libgcc's frames.
  CHECK(has_frame_in_function(both.cfi, reinterpret_cast<const void*>(&unwind_test::chain_without_frame_pointers)));
  CHECK(fallbacks() == fallbacks_before + 1);
}
}  // namespace

TEST_CASE("cfi: a signal frame on the stack hands the stack to libgcc") {
  check_stack_through_signal_frame(false);
}

TEST_CASE("cfi: a handler on an alternate signal stack hands the stack to libgcc") {
  std::vector<char> alternate(1 << 16);
  stack_t stack{};
  stack.ss_sp = alternate.data();
  stack.ss_size = alternate.size();
  stack_t previous{};
  REQUIRE(sigaltstack(&stack, &previous) == 0);
  check_stack_through_signal_frame(true);
  sigaltstack(&previous, nullptr);
}

TEST_CASE("cfi: threads walking at once share the cache and each get their own stack right") {
  std::atomic<int> mismatches{0};
  std::atomic<int> short_stacks{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([t, &mismatches, &short_stacks] {
      for (int round = 0; round < 40; ++round) {
        BothStacks both;
        int depth = 5 + (t * 7 + round) % 23;
        if (round % 2) unwind_test::chain_with_frame_pointers(depth, &capture_probe, &both);
        else unwind_test::chain_through_alloca(depth, 32 + t, &capture_probe, &both);
        if (both.cfi.size() < static_cast<size_t>(depth)) short_stacks.fetch_add(1);
        if (without_first(both.cfi) != without_first(both.libgcc)) mismatches.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(mismatches.load() == 0);
  CHECK(short_stacks.load() == 0);
}

namespace {
// A call site used by nothing else: its return address is new to the cache.
__attribute__((noinline)) int walk_from_a_new_call_site() {
  uintptr_t frames[kCapacity];
  int depth = stacks::cfi_backtrace(frames, kCapacity, nullptr);
  asm volatile("" : : "r"(depth) : "memory");
  return depth;
}
}  // namespace

TEST_CASE("cfi: an object unloaded with dlclose drops the cached rules at the next miss") {
  void* plugin = dlopen(UNWIND_TEST_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  REQUIRE(plugin != nullptr);
  auto call = reinterpret_cast<int (*)(unwind_test::Probe, void*)>(dlsym(plugin, "unwind_test_plugin_call"));
  REQUIRE(call != nullptr);
  BothStacks both;
  call(&capture_probe, &both);
  check_same_stacks(both, 3);
  CHECK(has_frame_in(both.cfi, "libunwind_test_plugin.so"));
  REQUIRE(dlclose(plugin) == 0);

  uint64_t flushes_before = stacks::cfi_counters().cache_flushes;
  CHECK(walk_from_a_new_call_site() > 2);
  CHECK(stacks::cfi_counters().cache_flushes == flushes_before + 1);
  // Everything is interpreted anew, and still right.
  uint64_t computed_before = rules_computed();
  BothStacks after;
  unwind_test::chain_with_frame_pointers(10, &capture_probe, &after);
  check_same_stacks(after, 10);
  CHECK(rules_computed() > computed_before + 10);
}
