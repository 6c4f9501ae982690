#include "interpose/event_clock.h"

#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define OOMTRACE_HAVE_TSC 1
#else
#define OOMTRACE_HAVE_TSC 0
#endif

namespace oomtrace::interpose {
namespace {

// Long enough that two clock readings' jitter (~100 ns) is 1e-5 of it,
// short enough that a program's first allocations barely wait for it.
constexpr uint64_t kCalibrationNs = 10'000'000;
// After that, one clock_gettime a second of ticks keeps the drift (NTP's
// slewing of CLOCK_MONOTONIC included, at most 500 ppm) under a millisecond.
constexpr uint64_t kReanchorNs = 1'000'000'000;
// A scale is set only from readings whose uncertainty is under 1e-4 of the
// span they measure.
constexpr uint64_t kSpreadRatio = 10'000;

uint64_t read_tsc() {
#if OOMTRACE_HAVE_TSC
  return __rdtsc();
#else
  return 0;
#endif
}

}  // namespace

TscScale TscScale::between(uint64_t first_tsc, uint64_t first_ns, uint64_t last_tsc, uint64_t last_ns) {
  TscScale scale;
  scale.anchor_tsc = last_tsc;
  scale.anchor_ns = last_ns;
  uint64_t ticks = last_tsc - first_tsc;
  uint64_t nanoseconds = last_ns >= first_ns ? last_ns - first_ns : 0;
  scale.ns_per_tick_q32 =
      ticks ? static_cast<uint64_t>((static_cast<unsigned __int128>(nanoseconds) << 32) / ticks) : 0;
  return scale;
}

uint64_t TscScale::to_ns(uint64_t tsc) const {
  uint64_t ticks = tsc > anchor_tsc ? tsc - anchor_tsc : 0;
  return anchor_ns + static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * ns_per_tick_q32) >> 32);
}

uint64_t TscScale::ticks_in(uint64_t ns) const {
  if (ns_per_tick_q32 == 0) return 0;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ns) << 32) / ns_per_tick_q32);
}

uint64_t EventClock::monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
}

bool EventClock::kernel_trusts_tsc() {
  if (!OOMTRACE_HAVE_TSC) return false;
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char name[32] = {};
  ssize_t length = read(fd, name, sizeof name - 1);
  close(fd);
  return length >= 3 && std::strncmp(name, "tsc", 3) == 0 && (name[3] == '\n' || name[3] == '\0');
}

// The TSC on both sides of the kernel's clock: a reading taken across a
// preemption has a wide spread and must not set the scale.
EventClock::Reading EventClock::read_both() {
  uint64_t before = read_tsc();
  uint64_t ns = monotonic_ns();
  uint64_t after = read_tsc();
  return {before + (after - before) / 2, ns, after - before};
}

void EventClock::start(bool allow_tsc) {
  source_ = allow_tsc && kernel_trusts_tsc() ? Source::Tsc : Source::Monotonic;
  phase_ = Phase::Calibrating;
  first_ = read_both();
  for (int attempt = 0; attempt < 2; ++attempt) {
    Reading again = read_both();
    if (again.spread < first_.spread) first_ = again;
  }
  scale_ = TscScale{};
  next_anchor_tsc_ = 0;
  last_ns_ = first_.ns;
}

uint64_t EventClock::now_ns() {
  if (source_ == Source::Monotonic) return never_backwards(monotonic_ns());
  if (phase_ == Phase::Scaled) {
    uint64_t tsc = read_tsc();
    if (tsc >= scale_.anchor_tsc && tsc < next_anchor_tsc_) return never_backwards(scale_.to_ns(tsc));
  }
  return stamp_from_both_clocks();
}

// While calibrating, and once a second after: the kernel's clock is the
// stamp, and the TSC read beside it refines the scale, measured over all
// the time since start so that the rate's error shrinks as the run goes on.
uint64_t EventClock::stamp_from_both_clocks() {
  Reading now = read_both();
  if (now.tsc <= first_.tsc) {
    // The TSC went back (reset by a resume from suspend on some machines):
    // calibrate again from here, on the kernel's clock meanwhile.
    first_ = now;
    phase_ = Phase::Calibrating;
  } else if (now.ns - first_.ns >= kCalibrationNs &&
             (now.spread + first_.spread) * kSpreadRatio <= now.tsc - first_.tsc) {
    scale_ = TscScale::between(first_.tsc, first_.ns, now.tsc, now.ns);
    uint64_t interval = scale_.ticks_in(kReanchorNs);
    if (interval > 0) {
      next_anchor_tsc_ = now.tsc + interval;
      phase_ = Phase::Scaled;
    }
  }
  // Otherwise a reading spread across a preemption: the next stamp tries again.
  return never_backwards(now.ns);
}

// A re-anchor can land a hair before the last scaled stamp; the trace's
// times never go back.
uint64_t EventClock::never_backwards(uint64_t ns) {
  if (ns < last_ns_) return last_ns_;
  last_ns_ = ns;
  return ns;
}

}  // namespace oomtrace::interpose
