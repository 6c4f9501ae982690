// The clock that stamps events (interpose/event_clock.h): the TSC scale's
// arithmetic, and the clock itself against CLOCK_MONOTONIC on this machine.
#include <catch2/catch.hpp>

#include <cstdint>

#include "interpose/event_clock.h"

using oomtrace::interpose::EventClock;
using oomtrace::interpose::TscScale;

TEST_CASE("a TSC scale maps ticks to nanoseconds at the measured rate", "[clock]") {
  // 3 GHz: 3 000 000 ticks in 1 ms.
  TscScale scale = TscScale::between(1000, 5000, 1000 + 3'000'000, 5000 + 1'000'000);
  CHECK(scale.anchor_tsc == 3'001'000);
  CHECK(scale.anchor_ns == 1'005'000);
  CHECK(scale.to_ns(scale.anchor_tsc) == 1'005'000);
  CHECK(scale.to_ns(scale.anchor_tsc + 3000) == Approx(1'006'000).margin(1));
  CHECK(scale.ticks_in(1'000'000'000) == Approx(3'000'000'000.0).epsilon(1e-9));
}

TEST_CASE("a TSC scale holds over days without overflow", "[clock]") {
  // Ten days at 3 GHz between the readings, then an hour past the anchor.
  uint64_t ten_days_ns = 10ull * 24 * 3600 * 1'000'000'000ull;
  TscScale scale = TscScale::between(0, 0, ten_days_ns * 3, ten_days_ns);
  uint64_t hour_ns = 3600ull * 1'000'000'000ull;
  CHECK(static_cast<double>(scale.to_ns(scale.anchor_tsc + hour_ns * 3)) ==
        Approx(static_cast<double>(ten_days_ns + hour_ns)).epsilon(1e-9));
}

TEST_CASE("a tick before the anchor reads as the anchor", "[clock]") {
  TscScale scale = TscScale::between(0, 0, 3000, 1000);
  CHECK(scale.to_ns(2000) == 1000);
}

namespace {

// Every stamp lies between CLOCK_MONOTONIC read just before and just after
// it (with `slack` for the scale's error), and none goes back.
void check_stamps_track_the_kernel_clock(EventClock& clock, uint64_t slack_ns) {
  uint64_t previous = 0;
  uint64_t begin = EventClock::monotonic_ns();
  int outside = 0;
  // 30 ms: past the 10 ms calibration, so scaled stamps are checked too.
  while (EventClock::monotonic_ns() - begin < 30'000'000) {
    uint64_t before = EventClock::monotonic_ns();
    uint64_t stamp = clock.now_ns();
    uint64_t after = EventClock::monotonic_ns();
    if (stamp + slack_ns < before || stamp > after + slack_ns) ++outside;
    REQUIRE(stamp >= previous);
    previous = stamp;
  }
  CHECK(outside == 0);
}

}  // namespace

TEST_CASE("the event clock follows CLOCK_MONOTONIC", "[clock]") {
  EventClock clock;
  SECTION("on the kernel's clock") {
    clock.start(false);
    CHECK(clock.source() == EventClock::Source::Monotonic);
    check_stamps_track_the_kernel_clock(clock, 0);
  }
  SECTION("on the TSC, where the kernel trusts it") {
    clock.start(true);
    CHECK((clock.source() == EventClock::Source::Tsc) == EventClock::kernel_trusts_tsc());
    // The scale's error after 10 ms of calibration is about 1e-5: well
    // under a microsecond over this test; 200 us leaves room for a
    // re-anchor after a preempted reading.
    check_stamps_track_the_kernel_clock(clock, 200'000);
  }
}
