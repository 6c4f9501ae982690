// When the device says no: releasing cached memory and trying again,
// max_split_size's release of oversize blocks, garbage collection under a
// memory fraction, the final failure, and releases a recording shows.
#include "model_fixture.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::Model;

TEST_CASE("a failed device allocation releases whole cached segments and retries") {
  Model model("", 60 * MiB);
  Allocation cached = model.take(20 * MiB);
  model.give_back(cached);
  model.take(50 * MiB);  // 20 cached + 50 > 60: the cached segment goes back first
  CHECK(model.stats().allocation_retries == 1);
  CHECK(model.stats().device_frees == 1);
  CHECK(model.stats().reserved_bytes == 50 * MiB);
  CHECK(model.stats().peak_reserved_bytes == 50 * MiB);
}

TEST_CASE("a segment with a live block stays, and the request fails") {
  Model model("", 60 * MiB);
  model.take(5 * MiB);  // pins its 20 MiB segment, 15 MiB of it cached
  CHECK_FALSE(model.allocator.allocate(50 * MiB));
  CHECK(model.stats().out_of_memory == 1);
  CHECK(model.stats().reserved_bytes == 20 * MiB);
  CHECK(model.stats().device_frees == 0);
}

TEST_CASE("with max_split_size, oversize blocks go back largest first, only as many as needed") {
  Model model("max_split_size_mb:40", 200 * MiB);
  Allocation a = model.take(50 * MiB);
  Allocation b = model.take(60 * MiB);
  Allocation c = model.take(70 * MiB);
  model.give_back(a);
  model.give_back(b);
  model.give_back(c);
  model.take(100 * MiB);  // none fits: release 70 and 60 (130 >= 100), keep 50
  CHECK(model.stats().reserved_bytes == 150 * MiB);
  CHECK(model.stats().device_frees == 2);
  CHECK(model.stats().allocation_retries == 0);  // the last-resort release was not needed
  std::vector<SegmentView> segments = model.allocator.segments();
  REQUIRE(segments.size() == 2);
  CHECK(segments[0].address == a.address);
}

TEST_CASE("with max_split_size, one oversize block large enough is the one released") {
  Model model("max_split_size_mb:40", 130 * MiB);
  Allocation a = model.take(50 * MiB);
  Allocation b = model.take(60 * MiB);
  model.give_back(a);
  model.give_back(b);
  model.take(30 * MiB);  // 110 + 30 > 130: release the smallest oversize block, 50 MiB
  CHECK(model.stats().device_frees == 1);
  CHECK(model.stats().reserved_bytes == 90 * MiB);
}

TEST_CASE("without max_split_size the same request empties the whole cache") {
  Model model("", 200 * MiB);
  for (uint64_t size : {50, 60, 70}) model.give_back(model.take(size * MiB));
  model.take(100 * MiB);
  CHECK(model.stats().reserved_bytes == 100 * MiB);
  CHECK(model.stats().device_frees == 3);
}

TEST_CASE("garbage collection needs a memory fraction") {
  Model model("garbage_collection_threshold:0.5", 100 * MiB);
  Allocation a = model.take(30 * MiB);
  Allocation b = model.take(30 * MiB);
  model.give_back(a);
  model.give_back(b);
  model.take(40 * MiB);
  CHECK(model.stats().device_frees == 0);
  CHECK(model.stats().reserved_bytes == 100 * MiB);
}

TEST_CASE("garbage collection frees the blocks unused longest once past the threshold") {
  Model model("garbage_collection_threshold:0.5,per_process_memory_fraction:1", 100 * MiB);
  Allocation a = model.take(30 * MiB);
  Allocation b = model.take(30 * MiB);
  model.give_back(b);  // b idles from here on
  model.give_back(a);
  for (int i = 0; i < 5; ++i) model.give_back(model.take(30 * MiB));  // a keeps being reused
  model.take(40 * MiB);  // 60 MiB reserved > 50 MiB threshold: b is older than average, a is not
  CHECK(model.stats().device_frees == 1);
  CHECK(model.stats().reserved_bytes == 70 * MiB);
  std::vector<SegmentView> segments = model.allocator.segments();
  bool a_kept = false;
  bool b_kept = false;
  for (const SegmentView& segment : segments) {
    a_kept |= segment.address == a.address;
    b_kept |= segment.address == b.address;
  }
  CHECK(a_kept);
  CHECK_FALSE(b_kept);
}

TEST_CASE("a memory fraction limits the process below the device") {
  Model model("per_process_memory_fraction:0.5", 100 * MiB);
  model.take(40 * MiB);
  CHECK_FALSE(model.allocator.allocate(20 * MiB));
  CHECK(model.device.used_bytes() == 40 * MiB);
}

TEST_CASE("empty_cache and a recorded release give back only wholly free segments") {
  Model model;
  Allocation whole = model.take(30 * MiB);
  Allocation pinned = model.take(5 * MiB);
  model.give_back(whole);
  CHECK_FALSE(model.allocator.release_segment(pinned.address));
  CHECK(model.allocator.release_segment(whole.address));
  CHECK_FALSE(model.allocator.release_segment(whole.address));
  Allocation again = model.take(30 * MiB);
  model.give_back(again);
  model.allocator.empty_cache();
  CHECK(model.stats().reserved_bytes == 20 * MiB);
  CHECK(model.stats().segments == 1);
}
