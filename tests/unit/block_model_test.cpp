// Blocks inside segments: what a program's own allocator reports through
// the pool API, and the figures a failure reads from them.
#include <catch2/catch.hpp>

#include "allocator/block_model.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;

namespace {

constexpr uint64_t kBase = 0x300000000000;
constexpr uint64_t kBlock = 128 * MiB;

// A model holding one 1 GiB segment at kBase on device 0.
struct OneSegment {
  BlockModel model;
  SegmentSpan segment{kBase, 1 * GiB, 0};

  OneSegment() { model.add_segment(0, 1 * GiB); }
  bool allocate(uint64_t offset, uint64_t size) {
    return model.allocate(segment, kBase + offset, size);
  }
  bool release(uint64_t offset) { return model.release(kBase + offset); }
  BlockFigures figures() const { return model.figures(0); }
  // Eight 128 MiB blocks fill the segment.
  void fill() {
    for (uint64_t i = 0; i < 8; ++i) REQUIRE(allocate(i * kBlock, kBlock));
  }
};

bool same(const FreeSizeBucket& a, const FreeSizeBucket& b) {
  return a.lower_bytes == b.lower_bytes && a.count == b.count && a.bytes == b.bytes;
}

}  // namespace

TEST_CASE("an opaque segment counts as allocated in full", "[blocks]") {
  BlockModel model;
  model.add_segment(0, 1 * GiB);
  model.add_segment(0, 512 * MiB);
  BlockFigures figures = model.figures(0);
  CHECK(figures.reserved_bytes == 1536 * MiB);
  CHECK(figures.allocated_bytes == 1536 * MiB);
  CHECK(figures.cached_free_bytes == 0);
  CHECK(figures.largest_free_block_bytes == 0);
  CHECK(figures.fragmentation == 0.0);
  CHECK(figures.opaque_segments == 2);
  CHECK(figures.sub_allocated_segments == 0);
  CHECK(model.free_histogram(0).empty());

  model.remove_segment(0, 512 * MiB);
  CHECK(model.figures(0).reserved_bytes == 1 * GiB);
  CHECK(model.figures(0).opaque_segments == 1);
  CHECK(model.figures(1).reserved_bytes == 0);  // a device never seen
}

TEST_CASE("the first block splits its segment into allocated and free", "[blocks]") {
  OneSegment s;
  REQUIRE(s.allocate(2 * kBlock, kBlock));  // free space before and after it
  BlockFigures figures = s.figures();
  CHECK(figures.reserved_bytes == 1 * GiB);
  CHECK(figures.allocated_bytes == kBlock);
  CHECK(figures.cached_free_bytes == 7 * kBlock);
  CHECK(figures.largest_free_block_bytes == 5 * kBlock);
  CHECK(figures.opaque_segments == 0);
  CHECK(figures.sub_allocated_segments == 1);
  CHECK(figures.live_blocks == 1);

  REQUIRE(s.allocate(0, 2 * kBlock));  // fills the space before exactly
  CHECK(s.figures().cached_free_bytes == 5 * kBlock);
  CHECK(s.figures().largest_free_block_bytes == 5 * kBlock);
  CHECK(s.figures().fragmentation == 0.0);
  CHECK(s.figures().live_blocks == 2);
}

TEST_CASE("freed neighbours merge into one free block", "[blocks]") {
  OneSegment s;
  s.fill();
  CHECK(s.figures().cached_free_bytes == 0);
  CHECK(s.figures().live_blocks == 8);

  REQUIRE(s.release(2 * kBlock));
  REQUIRE(s.release(4 * kBlock));
  CHECK(s.figures().largest_free_block_bytes == kBlock);
  REQUIRE(s.release(3 * kBlock));  // merges with both neighbours
  CHECK(s.figures().largest_free_block_bytes == 3 * kBlock);
  CHECK(s.figures().cached_free_bytes == 3 * kBlock);
  REQUIRE(s.release(7 * kBlock));
  REQUIRE(s.release(6 * kBlock));  // merges with the free block after it
  CHECK(s.figures().largest_free_block_bytes == 3 * kBlock);
  REQUIRE(s.release(5 * kBlock));  // joins the two runs: 2..7
  CHECK(s.figures().largest_free_block_bytes == 6 * kBlock);
  CHECK(s.model.free_histogram(0).size() == 1);

  // A merged free block is reused like any other.
  REQUIRE(s.allocate(2 * kBlock, 4 * kBlock));
  CHECK(s.figures().largest_free_block_bytes == 2 * kBlock);
  CHECK(s.figures().cached_free_bytes == 2 * kBlock);
}

TEST_CASE("every other block freed: largest free block and fragmentation", "[blocks]") {
  OneSegment s;
  s.fill();
  for (uint64_t i = 0; i < 8; i += 2) REQUIRE(s.release(i * kBlock));
  BlockFigures figures = s.figures();
  CHECK(figures.allocated_bytes == 512 * MiB);
  CHECK(figures.cached_free_bytes == 512 * MiB);
  CHECK(figures.largest_free_block_bytes == kBlock);
  CHECK(figures.fragmentation == 0.75);  // 1 - 128 / 512
  CHECK(figures.live_blocks == 4);
}

TEST_CASE("a histogram of free block sizes by power of two", "[blocks]") {
  OneSegment s;
  s.fill();
  REQUIRE(s.release(0));
  REQUIRE(s.release(2 * kBlock));
  REQUIRE(s.release(4 * kBlock));
  REQUIRE(s.release(5 * kBlock));  // merges with 4: 256 MiB
  std::vector<FreeSizeBucket> histogram = s.model.free_histogram(0);
  REQUIRE(histogram.size() == 2);
  CHECK(same(histogram[0], {128 * MiB, 2, 256 * MiB}));
  CHECK(same(histogram[1], {256 * MiB, 1, 256 * MiB}));

  REQUIRE(s.allocate(0, 3 * MiB));           // leaves 125 MiB
  REQUIRE(s.allocate(4 * kBlock, 3 * MiB));  // leaves 253 MiB
  histogram = s.model.free_histogram(0);
  REQUIRE(histogram.size() == 2);
  CHECK(same(histogram[0], {64 * MiB, 1, 125 * MiB}));
  CHECK(same(histogram[1], {128 * MiB, 2, 128 * MiB + 253 * MiB}));
}

TEST_CASE("frees of blocks never reported change nothing", "[blocks]") {
  OneSegment s;
  CHECK_FALSE(s.release(0));  // nothing sub-allocated yet: an opaque segment
  REQUIRE(s.allocate(0, kBlock));
  CHECK_FALSE(s.release(kBlock));       // free space, not a block
  CHECK_FALSE(s.release(16 * MiB));     // inside a block, not its start
  CHECK_FALSE(s.model.release(0x1234)); // no segment at all
  REQUIRE(s.release(0));
  CHECK_FALSE(s.release(0));  // already free
  CHECK(s.figures().cached_free_bytes == 1 * GiB);
  CHECK(s.figures().live_blocks == 0);
}

TEST_CASE("blocks outside their segment, or empty, are refused", "[blocks]") {
  OneSegment s;
  CHECK_FALSE(s.allocate(0, 0));
  CHECK_FALSE(s.allocate(1 * GiB, kBlock));           // just past the end
  CHECK_FALSE(s.allocate(1 * GiB - kBlock, 2 * kBlock));  // runs past the end
  CHECK_FALSE(s.model.allocate(s.segment, kBase - 1, kBlock));
  CHECK(s.figures().sub_allocated_segments == 0);
  CHECK(s.allocate(1 * GiB - kBlock, kBlock));  // the last block exactly
}

TEST_CASE("a block over live blocks: their frees were missed, the newer report wins", "[blocks]") {
  OneSegment s;
  s.fill();
  REQUIRE(s.allocate(kBlock + 64 * MiB, kBlock));  // overlaps blocks 1 and 2
  BlockFigures figures = s.figures();
  CHECK(figures.live_blocks == 7);  // 0, the new one, 3..7
  CHECK(figures.cached_free_bytes == kBlock);
  CHECK(figures.largest_free_block_bytes == 64 * MiB);  // two 64 MiB pieces
  CHECK(s.release(kBlock + 64 * MiB));
  CHECK(s.figures().largest_free_block_bytes == 2 * kBlock);
}

TEST_CASE("a segment freed with live blocks takes them with it", "[blocks]") {
  OneSegment s;
  s.fill();
  for (uint64_t i = 0; i < 8; i += 2) REQUIRE(s.release(i * kBlock));
  s.model.remove_segment(0, 1 * GiB);
  s.model.forget_blocks(kBase);
  BlockFigures figures = s.figures();
  CHECK(figures.reserved_bytes == 0);
  CHECK(figures.cached_free_bytes == 0);
  CHECK(figures.largest_free_block_bytes == 0);
  CHECK(figures.live_blocks == 0);
  CHECK(figures.sub_allocated_segments == 0);
  CHECK(s.model.free_histogram(0).empty());
  CHECK_FALSE(s.release(kBlock));
  CHECK_FALSE(s.model.sub_allocated_segment_containing(kBase).has_value());

  // A new segment at the same address starts opaque again.
  s.model.add_segment(0, 1 * GiB);
  CHECK(s.figures().opaque_segments == 1);
  CHECK(s.figures().allocated_bytes == 1 * GiB);
}

TEST_CASE("a segment whose blocks are all freed is all cache", "[blocks]") {
  OneSegment s;
  REQUIRE(s.allocate(0, kBlock));
  REQUIRE(s.release(0));
  BlockFigures figures = s.figures();
  CHECK(figures.allocated_bytes == 0);
  CHECK(figures.cached_free_bytes == 1 * GiB);
  CHECK(figures.largest_free_block_bytes == 1 * GiB);
  CHECK(figures.fragmentation == 0.0);
  CHECK(figures.sub_allocated_segments == 1);
}

TEST_CASE("segments are found by any address inside them", "[blocks]") {
  OneSegment s;
  REQUIRE(s.allocate(0, kBlock));
  auto found = s.model.sub_allocated_segment_containing(kBase + 1 * GiB - 1);
  REQUIRE(found.has_value());
  CHECK(found->address == kBase);
  CHECK(found->size == 1 * GiB);
  CHECK(found->device == 0);
  CHECK_FALSE(s.model.sub_allocated_segment_containing(kBase + 1 * GiB).has_value());
  CHECK_FALSE(s.model.sub_allocated_segment_containing(kBase - 1).has_value());
}

TEST_CASE("each device has its own free blocks; opaque and sub-allocated mix", "[blocks]") {
  BlockModel model;
  SegmentSpan first{kBase, 1 * GiB, 0};
  SegmentSpan second{kBase + 4 * GiB, 2 * GiB, 0};
  SegmentSpan other_device{kBase + 16 * GiB, 1 * GiB, 1};
  model.add_segment(0, 1 * GiB);
  model.add_segment(0, 2 * GiB);
  model.add_segment(0, 3 * GiB);  // opaque
  model.add_segment(1, 1 * GiB);
  REQUIRE(model.allocate(first, kBase, 768 * MiB));                 // 256 MiB free
  REQUIRE(model.allocate(second, second.address, 1 * GiB));         // 1 GiB free
  REQUIRE(model.allocate(other_device, other_device.address, 64 * MiB));

  BlockFigures figures = model.figures(0);
  CHECK(figures.reserved_bytes == 6 * GiB);
  CHECK(figures.cached_free_bytes == 1280 * MiB);
  CHECK(figures.allocated_bytes == 6 * GiB - 1280 * MiB);
  CHECK(figures.largest_free_block_bytes == 1 * GiB);
  CHECK(figures.fragmentation == Approx(0.2));  // 1 - 1024 / 1280
  CHECK(figures.opaque_segments == 1);
  CHECK(figures.sub_allocated_segments == 2);
  CHECK(model.figures(1).cached_free_bytes == 960 * MiB);
  CHECK(model.figures(1).largest_free_block_bytes == 960 * MiB);

  model.remove_segment(0, 2 * GiB);
  model.forget_blocks(second.address);
  CHECK(model.figures(0).largest_free_block_bytes == 256 * MiB);
  CHECK(model.figures(1).largest_free_block_bytes == 960 * MiB);
}
