// expandable_segments:True: one address range per stream and pool, grown
// by 20 MiB (large) or 2 MiB (small) pages, shrunk by unmapping free pages.
#include "model_fixture.h"

using namespace oomtrace::caching;
using oomtrace::test::MiB;
using oomtrace::test::Model;

TEST_CASE("an expandable segment grows by whole pages in place") {
  Model model("expandable_segments:True", 1024 * MiB);
  Allocation first = model.take(5 * MiB);
  CHECK(model.stats().reserved_bytes == 20 * MiB);
  Allocation second = model.take(30 * MiB);  // the 15 MiB left plus one more page
  CHECK(second.address == first.address + 5 * MiB);
  CHECK(model.stats().reserved_bytes == 40 * MiB);
  CHECK(model.stats().device_allocations == 2);
  std::vector<SegmentView> segments = model.allocator.segments();
  REQUIRE(segments.size() == 1);
  CHECK(segments[0].expandable);
  CHECK(segments[0].size == 1160 * MiB);  // 1 1/8 of the device, rounded up to 20 MiB pages
  CHECK_FALSE(segments[0].blocks.back().mapped);
}

TEST_CASE("the small pool grows by 2 MiB pages") {
  Model model("expandable_segments:True", 1024 * MiB);
  model.take(kMiB);
  model.take(kMiB);
  CHECK(model.stats().reserved_bytes == 2 * MiB);
  model.take(1000);
  CHECK(model.stats().reserved_bytes == 4 * MiB);
  CHECK(model.allocator.segments().size() == 1);
}

TEST_CASE("in an expandable segment any remainder of 512 bytes is split off") {
  Model model("expandable_segments:True", 1024 * MiB);
  Allocation nearly_a_page = model.take(20 * MiB - 512);
  CHECK(nearly_a_page.block_size == 20 * MiB - 512);
  Model plain("", 1024 * MiB);
  CHECK(plain.take(20 * MiB - 512).block_size == 20 * MiB);
}

TEST_CASE("free pages are unmapped when the cache is emptied, and the empty segment goes") {
  Model model("expandable_segments:True", 1024 * MiB);
  Allocation a = model.take(30 * MiB);
  Allocation b = model.take(30 * MiB);
  model.give_back(a);
  model.allocator.empty_cache();  // a's first page is wholly free; its second is shared with b
  CHECK(model.stats().reserved_bytes == 40 * MiB);
  model.give_back(b);
  model.allocator.empty_cache();
  CHECK(model.stats().reserved_bytes == 0);
  CHECK(model.allocator.segments().empty());
}

TEST_CASE("an expandable segment reuses unmapped space at its lowest address first") {
  Model model("expandable_segments:True", 1024 * MiB);
  Allocation a = model.take(40 * MiB);
  Allocation b = model.take(40 * MiB);
  model.give_back(a);
  model.allocator.empty_cache();  // unmaps a's two pages: a hole at the front
  CHECK(model.stats().reserved_bytes == 40 * MiB);
  Allocation c = model.take(40 * MiB);
  CHECK(c.address == a.address);
  CHECK(model.stats().reserved_bytes == 80 * MiB);
  (void)b;
}

TEST_CASE("at capacity an expandable segment gives back free pages and maps again") {
  Model model("expandable_segments:True", 100 * MiB);
  Allocation a = model.take(60 * MiB);
  model.take(20 * MiB);
  model.give_back(a);
  Allocation big = model.take(70 * MiB);  // 20 MiB free in place is not enough: a's pages must be reused
  CHECK(model.stats().reserved_bytes <= 100 * MiB);
  CHECK(big.block_size == 70 * MiB);
}
