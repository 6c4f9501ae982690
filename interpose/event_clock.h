// The clock that stamps events: nanoseconds on CLOCK_MONOTONIC's scale.
//
// Where the kernel itself keeps CLOCK_MONOTONIC on the TSC (clocksource
// "tsc", which it selects only for an invariant TSC it found in step across
// CPUs), the TSC is read directly and scaled: rdtsc costs about 9 ns where
// clock_gettime costs 20 on the project's machine, and an allocate/free
// pair reads the clock twice (docs/overhead-breakdown.md). The scale is
// measured against CLOCK_MONOTONIC over the first 10 ms, then re-anchored
// once a second of ticks, so stamps stay within microseconds of it.
// Elsewhere, or with OOMTRACE_CLOCK=monotonic, every stamp is clock_gettime.
#pragma once

#include <cstdint>

namespace oomtrace::interpose {

// A linear map from TSC ticks to nanoseconds. Pure, so tests can drive it.
struct TscScale {
  uint64_t anchor_tsc = 0;
  uint64_t anchor_ns = 0;
  uint64_t ns_per_tick_q32 = 0;  // nanoseconds per tick, times 2^32

  // The rate over [first, last], anchored at last. Needs last_tsc > first_tsc.
  static TscScale between(uint64_t first_tsc, uint64_t first_ns, uint64_t last_tsc, uint64_t last_ns);
  // A tick before the anchor (another CPU's TSC a hair behind) reads as it.
  uint64_t to_ns(uint64_t tsc) const;
  // Ticks in `ns` nanoseconds at this rate (for the re-anchoring interval).
  uint64_t ticks_in(uint64_t ns) const;
};

// Not thread-safe: the recorder reads it under its lock, which also makes
// the stamps non-decreasing in the order records reach the trace.
class EventClock {
 public:
  enum class Source { Monotonic, Tsc };

  // Begins a recording: picks the source and takes the first reading.
  void start(bool allow_tsc);
  uint64_t now_ns();
  Source source() const { return source_; }

  static uint64_t monotonic_ns();
  // True where the kernel's clocksource is the TSC and this CPU has one.
  static bool kernel_trusts_tsc();

 private:
  enum class Phase { Calibrating, Scaled };
  struct Reading {
    uint64_t tsc;     // midway between the two TSC reads
    uint64_t ns;      // CLOCK_MONOTONIC between them
    uint64_t spread;  // ticks between the two TSC reads
  };
  static Reading read_both();
  uint64_t stamp_from_both_clocks();
  uint64_t never_backwards(uint64_t ns);

  Source source_ = Source::Monotonic;
  Phase phase_ = Phase::Calibrating;
  Reading first_{};
  TscScale scale_;
  uint64_t next_anchor_tsc_ = 0;
  uint64_t last_ns_ = 0;
};

}  // namespace oomtrace::interpose
