// A run built to fragment: a growing sequence length. Each step's
// activations are a little larger than the last step's, so they never fit
// the blocks the last step freed; meanwhile a part of each step is kept
// (half as long, a cache row) and lands in the freshly freed segment,
// pinning it. Under the default settings the pinned, mostly empty segments
// pile up until the device runs out; with expandable segments the freed
// space stays contiguous and the same run fits.
#include <catch2/catch.hpp>

#include "allocator/caching_allocator/replayer.h"
#include "model_fixture.h"
#include "recording_builder.h"
#include "report/whatif/whatif.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::RecordingBuilder;

namespace {

constexpr uint64_t kCapacity = 3072 * MiB;

Recording growing_sequence(int steps) {
  RecordingBuilder builder;
  uint64_t next_address = uint64_t{1} << 40;
  auto alloc = [&](uint64_t size) {
    uint64_t address = next_address;
    next_address += uint64_t{1} << 32;  // the recording's own addresses do not matter here
    builder.alloc(address, size);
    return address;
  };
  uint64_t previous_activations = 0;
  uint64_t previous_length = 0;
  for (int step = 0; step < steps; ++step) {
    uint64_t length = 100 * MiB + static_cast<uint64_t>(step) * 10 * MiB;
    uint64_t activations = alloc(length);
    uint64_t scratch = alloc(length / 4 + MiB);
    if (previous_activations) builder.free(previous_activations);  // freed after the new ones exist
    builder.free(scratch);
    if (previous_length) alloc(previous_length / 2 + MiB);  // kept for later: never freed
    previous_activations = activations;
    previous_length = length;
  }
  return builder.build();
}

ReplayResult on_device(const Recording& recording, const std::string& conf) {
  ReplayOptions options;
  options.config = oomtrace::test::settings(conf);
  options.capacity = kCapacity;
  return replay(recording, {}, options);
}

}  // namespace

TEST_CASE("fragmentation: the default settings run out of memory, expandable segments do not") {
  Recording recording = growing_sequence(20);
  ReplayResult defaults = on_device(recording, "");
  ReplayResult expandable = on_device(recording, "expandable_segments:True");
  REQUIRE(defaults.first_failure_event);
  CHECK_FALSE(expandable.first_failure_event);
  CHECK(expandable.peak_reserved_bytes <= kCapacity);
  // What each would need with no limit: the default settings far more than
  // the memory in use, expandable segments little more.
  ReplayResult unlimited = replay(recording, {}, ReplayOptions{});
  CHECK(unlimited.peak_reserved_bytes > kCapacity);
  CHECK(expandable.peak_reserved_bytes < unlimited.peak_allocated_bytes * 12 / 10);
}

TEST_CASE("fragmentation: whatif recommends expandable segments for it") {
  oomtrace::report::WhatIfInput input;
  input.kind = "oomtrace-trace";
  input.recording = growing_sequence(20);
  input.settings_origin = "test";
  oomtrace::report::WhatIfOptions options;
  options.capacity = kCapacity;
  options.alternatives = {"expandable_segments:True", "max_split_size_mb:128"};
  oomtrace::report::WhatIfResult result = oomtrace::report::analyze_whatif(input, options);
  REQUIRE(result.analysis);
  const auto& rows = result.analysis->rows;
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].recorded);
  CHECK(rows[0].oom_at_event);
  const oomtrace::report::WhatIfRow* best = result.analysis->recommendation();
  REQUIRE(best);
  CHECK(best->settings == "expandable_segments:True");
  CHECK_FALSE(best->oom_at_event);
}
