// The caching allocator's policy, one rule at a time: pools, segment
// sizes, best fit per stream, splitting, max_split_size, coalescing, the
// two halves of a free, and memory held before the model started.
#include "model_fixture.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::Model;

TEST_CASE("each pool gets its own segment sizes and never serves the other") {
  Model model;
  Allocation small = model.take(1000);
  CHECK(small.block_size == 1024);
  CHECK(model.stats().reserved_bytes == 2 * MiB);
  Allocation medium = model.take(MiB + 1);  // large pool: a 20 MiB segment
  CHECK(model.stats().reserved_bytes == 22 * MiB);
  CHECK(medium.address != small.address + 1024);  // not from the small segment's free space
  model.take(24 * MiB + 1);  // rounded to 24 MiB + 512, segment rounded to 2 MiB: 26 MiB
  CHECK(model.stats().reserved_bytes == 48 * MiB);
  CHECK(model.stats().device_allocations == 3);
}

TEST_CASE("a request takes the smallest cached block that fits") {
  Model model;
  Allocation a = model.take(30 * MiB);
  Allocation b = model.take(26 * MiB);
  Allocation c = model.take(40 * MiB);
  model.give_back(a);
  model.give_back(b);
  model.give_back(c);
  Allocation fit = model.take(25 * MiB);
  CHECK(fit.address == b.address);
  CHECK(fit.block_size == 26 * MiB);  // 1 MiB left is not worth a block of its own
  CHECK(model.stats().device_allocations == 3);
}

TEST_CASE("blocks are cached per stream") {
  Model model;
  Allocation on_one = model.take(30 * MiB, 1);
  model.give_back(on_one);
  Allocation on_two = model.take(30 * MiB, 2);
  CHECK(on_two.address != on_one.address);
  CHECK(model.stats().device_allocations == 2);
  Allocation again_on_one = model.take(30 * MiB, 1);
  CHECK(again_on_one.address == on_one.address);
}

TEST_CASE("the small pool splits off any remainder of 512 bytes or more") {
  Model model;
  Allocation first = model.take(1000);
  Allocation second = model.take(600);
  CHECK(second.address == first.address + 1024);
  CHECK(second.block_size == 1024);
  CHECK(model.stats().device_allocations == 1);
}

TEST_CASE("the large pool splits only a remainder of more than 1 MiB") {
  Model model;
  Allocation first = model.take(5 * MiB);  // a 20 MiB segment, 15 MiB left cached
  Allocation second = model.take(5 * MiB);
  CHECK(second.address == first.address + 5 * MiB);
  Allocation whole = model.take(21 * MiB);  // a 22 MiB segment: 1 MiB left, not split
  CHECK(whole.block_size == 22 * MiB);
  Allocation kept = model.take(20 * MiB + 512);  // 22 MiB segment: the almost 2 MiB left is split off
  CHECK(kept.block_size == 20 * MiB + 512);
}

TEST_CASE("max_split_size keeps oversize blocks for large requests and never splits them") {
  Model model("max_split_size_mb:40");
  Allocation big = model.take(100 * MiB);
  model.give_back(big);
  Allocation small_request = model.take(30 * MiB);  // below max_split_size: the 100 MiB block is off limits
  CHECK(small_request.address != big.address);
  Allocation oversize = model.take(85 * MiB);  // within 20 MiB of 100 MiB: taken whole
  CHECK(oversize.address == big.address);
  CHECK(oversize.block_size == 100 * MiB);
}

TEST_CASE("an oversize request takes a cached block only within the non-split margin") {
  Model model("max_split_size_mb:40");
  Allocation big = model.take(85 * MiB);
  model.give_back(big);
  Allocation request = model.take(60 * MiB);  // 86 MiB segment >= 60 + 20
  CHECK(request.address != big.address);
  Model wider("max_split_size_mb:40,max_non_split_rounding_mb:40");
  Allocation cached = wider.take(85 * MiB);
  wider.give_back(cached);
  CHECK(wider.take(60 * MiB).address == cached.address);
}

TEST_CASE("a freed block merges with free neighbours on both sides") {
  Model model;
  Allocation a = model.take(5 * MiB);
  Allocation b = model.take(5 * MiB);
  Allocation c = model.take(5 * MiB);
  model.give_back(a);
  model.give_back(c);
  std::vector<SegmentView> before = model.allocator.segments();
  REQUIRE(before.size() == 1);
  CHECK(before[0].blocks.size() == 3);  // free a; b; c merged with the free tail
  model.give_back(b);
  std::vector<SegmentView> after = model.allocator.segments();
  REQUIRE(after[0].blocks.size() == 1);
  CHECK(after[0].blocks[0].size == 20 * MiB);
  CHECK_FALSE(after[0].blocks[0].allocated);
  CHECK(model.take(20 * MiB).address == a.address);
  CHECK(model.stats().device_allocations == 1);
}

TEST_CASE("a block whose free was only requested is not reused until completed") {
  Model model;
  Allocation a = model.take(5 * MiB);
  REQUIRE(model.allocator.request_free(a.address));
  CHECK(model.stats().allocated_bytes == 0);
  Allocation b = model.take(5 * MiB);
  CHECK(b.address == a.address + 5 * MiB);
  REQUIRE(model.allocator.complete_free(a.address));
  CHECK(model.take(5 * MiB).address == a.address);
  CHECK(model.stats().peak_allocated_bytes == 10 * MiB);
  CHECK_FALSE(model.allocator.free(12345));
}

TEST_CASE("memory held before the model started is taken on as it was") {
  Model model;
  ExistingSegment segment{uint64_t{1} << 40, 20 * MiB, 0, false, {{(uint64_t{1} << 40), 4 * MiB, false},
                                                                 {(uint64_t{1} << 40) + 10 * MiB, 2 * MiB, false}}};
  REQUIRE(model.allocator.adopt_segment(segment));
  CHECK(model.stats().reserved_bytes == 20 * MiB);
  CHECK(model.stats().allocated_bytes == 6 * MiB);
  std::vector<SegmentView> views = model.allocator.segments();
  REQUIRE(views.size() == 1);
  REQUIRE(views[0].blocks.size() == 4);
  CHECK(views[0].blocks[1].size == 6 * MiB);
  CHECK_FALSE(views[0].blocks[1].allocated);
  CHECK(model.take(6 * MiB).address == segment.address + 4 * MiB);  // the 6 MiB gap fits best
  REQUIRE(model.allocator.free(segment.address + 10 * MiB));        // a block it never handed out itself
  ExistingSegment overlapping{uint64_t{1} << 41, 20 * MiB, 0, false,
                              {{uint64_t{1} << 41, 8 * MiB, false}, {(uint64_t{1} << 41) + 4 * MiB, 2 * MiB, false}}};
  CHECK_FALSE(model.allocator.adopt_segment(overlapping));
  CHECK(model.stats().reserved_bytes == 20 * MiB);
}
