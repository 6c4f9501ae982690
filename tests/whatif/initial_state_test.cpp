// The state a mid-run recording starts from, worked out from its trace and
// its final state.
#include <catch2/catch.hpp>

#include "allocator/caching_allocator/initial_state.h"
#include "model_fixture.h"
#include "recording_builder.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::RecordingBuilder;

namespace {

constexpr uint64_t kSegment = uint64_t{0x7f0000000000};

RecordedSegment final_segment(uint64_t address, uint64_t size, std::vector<RecordedBlock> blocks) {
  return {address, size, 0, size == 2 * MiB, false, std::move(blocks)};
}

}  // namespace

TEST_CASE("a recording with no history before it starts empty") {
  InitialState state = reconstruct_initial_state(RecordingBuilder().segment_alloc(kSegment, 20 * MiB)
                                                     .alloc(kSegment, 5 * MiB)
                                                     .free(kSegment)
                                                     .build());
  CHECK(state.segments.empty());
  CHECK(state.reserved_bytes == 0);
}

TEST_CASE("segments and blocks from before the first event are rebuilt") {
  // The final state: a 20 MiB segment whose first 5 MiB block was allocated
  // before the trace and is still out. The trace frees a block at +5 MiB it
  // never allocated.
  Recording recording = RecordingBuilder()
                            .free(kSegment + 5 * MiB, 3 * MiB + 100)
                            .final_segment(final_segment(kSegment, 20 * MiB,
                                                         {{kSegment, 5 * MiB, true, false},
                                                          {kSegment + 5 * MiB, 15 * MiB, false, false}}))
                            .build();
  InitialState state = reconstruct_initial_state(recording);
  REQUIRE(state.segments.size() == 1);
  const ExistingSegment& segment = state.segments[0];
  CHECK(segment.address == kSegment);
  CHECK(state.reserved_bytes == 20 * MiB);
  REQUIRE(segment.blocks.size() == 2);
  CHECK(segment.blocks[0].size == 5 * MiB);            // exact, from the final state
  CHECK(segment.blocks[1].size == 3 * MiB + 512);      // the request, rounded
  CHECK_FALSE(segment.blocks[1].free_requested);
}

TEST_CASE("a large block leaving 1 MiB or less before the next was not split") {
  Recording recording = RecordingBuilder()
                            .free(kSegment, 19 * MiB + 300)
                            .final_segment(final_segment(kSegment, 20 * MiB, {{kSegment, 20 * MiB, false, false}}))
                            .build();
  InitialState state = reconstruct_initial_state(recording);
  REQUIRE(state.segments.size() == 1);
  REQUIRE(state.segments[0].blocks.size() == 1);
  CHECK(state.segments[0].blocks[0].size == 20 * MiB);
}

TEST_CASE("segments the trace frees before allocating existed before it") {
  Recording recording = RecordingBuilder()
                            .free_completed(kSegment + 2 * MiB, 4 * MiB)  // already requested before the trace
                            .segment_free(kSegment, 20 * MiB)
                            .segment_alloc(kSegment + 64 * MiB, 20 * MiB)
                            .alloc(kSegment + 64 * MiB, 5 * MiB)
                            .free(kSegment + 512 * MiB)  // in no segment anyone knows of
                            .build();
  InitialState state = reconstruct_initial_state(recording);
  REQUIRE(state.segments.size() == 1);
  CHECK(state.segments[0].size == 20 * MiB);
  CHECK_FALSE(state.segments[0].small_pool);
  REQUIRE(state.segments[0].blocks.size() == 1);
  CHECK(state.segments[0].blocks[0].free_requested);
  CHECK(state.blocks_outside_segments == 1);
}

TEST_CASE("the rebuilt state lets the model replay the trace from its start") {
  Recording recording = RecordingBuilder()
                            .free(kSegment + 5 * MiB, 3 * MiB + 100)
                            .alloc(kSegment + 5 * MiB, 2 * MiB)  // the freed gap is the best fit
                            .final_segment(final_segment(kSegment, 20 * MiB,
                                                         {{kSegment, 5 * MiB, true, false},
                                                          {kSegment + 5 * MiB, 2 * MiB, true, false},
                                                          {kSegment + 7 * MiB, 13 * MiB, false, false}}))
                            .build();
  InitialState state = reconstruct_initial_state(recording);
  oomtrace::test::Model model;
  REQUIRE(model.allocator.adopt_segment(state.segments[0]));
  REQUIRE(model.allocator.free(kSegment + 5 * MiB));
  CHECK(model.take(2 * MiB).address == kSegment + 5 * MiB);
}
