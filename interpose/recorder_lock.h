// The recorder's lock: a futex mutex of three states (Drepper, "Futexes Are
// Tricky", mutex 2). Uncontended, a lock is one compare-exchange and an
// unlock one exchange, with nothing else in the way: glibc's adaptive mutex
// spent about 55 instructions per lock and unlock on its type dispatch and
// bookkeeping (callgrind, bench/callgrind_pairs.py), taken twice per pair.
// Contended, a waiter spins briefly, as the adaptive mutex did (the holder
// stays a few hundred nanoseconds), then sleeps in the kernel.
//
// Plain atomics with acquire and release order, so ThreadSanitizer sees the
// ordering it gives; nothing here allocates, so a signal handler may trylock.
#pragma once

#include <atomic>
#include <cstdint>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace oomtrace::interpose {

class RecorderLock {
 public:
  void lock() {
    uint32_t expected = kUnlocked;
    if (__builtin_expect(state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire), 1)) return;
    lock_contended();
  }

  bool try_lock() {
    uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire);
  }

  void unlock() {
    if (__builtin_expect(state_.exchange(kUnlocked, std::memory_order_release) == kLockedWithWaiters, 0)) {
      wake_one();
    }
  }

 private:
  static constexpr uint32_t kUnlocked = 0;
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kLockedWithWaiters = 2;
  // About a microsecond on the project's machine: longer than the lock is
  // held, far shorter than a trip through the scheduler.
  static constexpr int kSpins = 100;

  __attribute__((noinline)) void lock_contended() {
    for (int spin = 0; spin < kSpins; ++spin) {
      uint32_t expected = kUnlocked;
      if (state_.load(std::memory_order_relaxed) == kUnlocked &&
          state_.compare_exchange_weak(expected, kLocked, std::memory_order_acquire)) {
        return;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    // From here on the lock is taken as "with waiters", so that whoever
    // holds it next wakes the next sleeper.
    while (state_.exchange(kLockedWithWaiters, std::memory_order_acquire) != kUnlocked) {
      syscall(SYS_futex, &state_, FUTEX_WAIT_PRIVATE, kLockedWithWaiters, nullptr, nullptr, 0);
    }
  }

  __attribute__((noinline)) void wake_one() {
    syscall(SYS_futex, &state_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

  std::atomic<uint32_t> state_{kUnlocked};
};

}  // namespace oomtrace::interpose
