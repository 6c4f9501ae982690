// Replays of hand-written recordings: fidelity counting, the window of
// recorded device allocations, failures at a capacity, recorded releases.
#include <catch2/catch.hpp>

#include "allocator/caching_allocator/replayer.h"
#include "model_fixture.h"
#include "recording_builder.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::RecordingBuilder;

namespace {

constexpr uint64_t A = uint64_t{0x7f0000000000};
constexpr uint64_t B = uint64_t{0x7f0100000000};

ReplayOptions reproducing() {
  ReplayOptions options;
  options.use_recorded_addresses = true;
  options.replay_failed_requests = false;
  return options;
}

// What PyTorch would log for this program.
Recording faithful_recording() {
  return RecordingBuilder()
      .segment_alloc(A, 20 * MiB)
      .alloc(A, 5 * MiB)
      .alloc(A + 5 * MiB, 5 * MiB)
      .free(A)
      .alloc(A, 4 * MiB + 100)  // the 5 MiB hole fits best; 1 MiB left is not split off
      .segment_alloc(B, 2 * MiB)
      .alloc(B, 1000)
      .alloc(B + 1024, 1000)
      .free(A + 5 * MiB)
      .alloc(A + 5 * MiB, 12 * MiB)  // the freed 5 MiB merged with the 10 MiB tail
      .build();
}

}  // namespace

TEST_CASE("a recording that follows the policy is reproduced exactly") {
  Recording recording = faithful_recording();
  ReplayResult result = replay(recording, {}, reproducing());
  CHECK(result.fidelity.allocations_recorded == 6);
  CHECK(result.fidelity.allocations_same_address == 6);
  CHECK(result.fidelity.segment_allocs_recorded == 2);
  CHECK(result.fidelity.segment_allocs_reproduced == 2);
  CHECK(result.fidelity.share() == 1.0);
  CHECK(result.recorded_peak_reserved_bytes == 22 * MiB);
  CHECK(result.peak_reserved_bytes == 22 * MiB);
  CHECK_FALSE(result.first_failure_event);
}

TEST_CASE("where the recording departs from the policy, fidelity says so") {
  Recording recording = RecordingBuilder()
                            .segment_alloc(A, 20 * MiB)
                            .alloc(A + 5 * MiB, 5 * MiB)  // PyTorch would have used A
                            .segment_alloc(B, 40 * MiB)   // the model asks for 16 MiB here
                            .alloc(B, 16 * MiB)
                            .build();
  ReplayResult result = replay(recording, {}, reproducing());
  CHECK(result.fidelity.allocations_recorded == 2);
  CHECK(result.fidelity.allocations_same_address == 0);
  CHECK(result.fidelity.segment_allocs_recorded == 2);
  CHECK(result.fidelity.segment_allocs_reproduced == 1);
  CHECK(result.fidelity.share() == 0.0);
}

TEST_CASE("frees follow the model's own addresses when they differ from the recording") {
  Recording recording = RecordingBuilder()
                            .alloc(A, 30 * MiB)
                            .free(A)
                            .alloc(A + 64 * MiB, 30 * MiB)
                            .build();
  ReplayResult result = replay(recording, {}, ReplayOptions{});
  CHECK(result.device_allocations == 1);  // the freed block was reused
  CHECK(result.peak_reserved_bytes == 30 * MiB);
}

TEST_CASE("on a small device the first request that fails is named") {
  Recording recording = faithful_recording();
  ReplayOptions options;
  options.capacity = 21 * MiB;  // the 2 MiB small segment does not fit beside the 20 MiB one
  ReplayResult result = replay(recording, {}, options);
  REQUIRE(result.first_failure_event);
  CHECK(*result.first_failure_event == 7);  // alloc(B, 1000)
  CHECK(result.failed_requests == 2);
}

TEST_CASE("a recorded failed request fails again only where memory is short") {
  Recording recording = RecordingBuilder().segment_alloc(A, 20 * MiB).alloc(A, 5 * MiB).oom(60 * MiB).build();
  ReplayOptions roomy;
  roomy.capacity = 100 * MiB;
  ReplayResult fits = replay(recording, {}, roomy);
  CHECK_FALSE(fits.first_failure_event);
  CHECK(fits.peak_reserved_bytes == 80 * MiB);  // the request is served and kept
  ReplayOptions tight;
  tight.capacity = 64 * MiB;
  ReplayResult fails = replay(recording, {}, tight);
  REQUIRE(fails.first_failure_event);
  CHECK(*fails.first_failure_event == 2);
  ReplayResult reproduced = replay(recording, {}, reproducing());
  CHECK_FALSE(reproduced.first_failure_event);  // the recording's own failure is not replayed
}

TEST_CASE("recorded releases give back the same segment, or empty the cache") {
  Recording recording = RecordingBuilder()
                            .segment_alloc(A, 30 * MiB)
                            .alloc(A, 30 * MiB)
                            .segment_alloc(B, 40 * MiB)
                            .alloc(B, 40 * MiB)
                            .free(A)
                            .free(B)
                            .segment_free(A, 30 * MiB)
                            .alloc(B, 40 * MiB)
                            .build();
  Replayer reproduce(recording, {}, reproducing());
  ReplayResult result = reproduce.run();
  CHECK(reproduce.model().stats().reserved_bytes == 40 * MiB);
  CHECK(result.fidelity.allocations_same_address == 3);
  ReplayOptions other_settings;  // made-up addresses: the release empties the cache instead
  Replayer whatif(recording, {}, other_settings);
  whatif.run();
  CHECK(whatif.model().stats().reserved_bytes == 40 * MiB);
  CHECK(whatif.model().stats().device_allocations == 3);
}
