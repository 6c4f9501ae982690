// Rounding, pools and segment sizes.
#include <catch2/catch.hpp>

#include "allocator/caching_allocator/size_classes.h"

using namespace oomtrace::caching;

TEST_CASE("requests round up to 512 bytes, at least 512") {
  AllocatorConfig defaults;
  CHECK(round_size(0, defaults) == 512);
  CHECK(round_size(1, defaults) == 512);
  CHECK(round_size(512, defaults) == 512);
  CHECK(round_size(513, defaults) == 1024);
  CHECK(round_size(7864320, defaults) == 7864320);
  CHECK(round_size(82880, defaults) == 82944);
}

TEST_CASE("roundup_power2_divisions rounds to the next division between powers of two") {
  AllocatorConfig four;
  four.roundup_power2_divisions.fill(4);
  // 1024, 1280, 1536, 1792 KiB: PyTorch's own example, in KiB.
  CHECK(round_size(1200 * 1024, four) == 1280 * 1024);
  CHECK(round_size(4096, four) == 4096);  // a power of two stays
  CHECK(round_size(6144, four) == 6144);  // on a division already
  CHECK(round_size(5000, four) == 5120);
  CHECK(round_size(5 * kMiB + 1, four) == 6 * kMiB);
  // Below divisions x 512 bytes the steps would be under 512: plain rounding.
  CHECK(round_size(1200, four) == 1536);
  CHECK(round_size(2040, four) == 2048);
  // Interval 0 (everything below 2 MiB) without divisions, the rest with 2.
  AllocatorConfig large_only = parse_alloc_conf("roundup_power2_divisions:[1:0,2:2,>:2]").config.value();
  CHECK(round_size(kMiB - 100, large_only) == kMiB);
  CHECK(round_size(3 * kMiB + 7, large_only) == 4 * kMiB);
}

TEST_CASE("sizes up to 1 MiB come from the small pool") {
  CHECK(is_small_request(512));
  CHECK(is_small_request(kMiB));
  CHECK_FALSE(is_small_request(kMiB + 512));
}

TEST_CASE("segments are 2 MiB, 20 MiB, or rounded to 2 MiB from 10 MiB") {
  CHECK(segment_size_for(512) == 2 * kMiB);
  CHECK(segment_size_for(kMiB) == 2 * kMiB);
  CHECK(segment_size_for(kMiB + 512) == 20 * kMiB);
  CHECK(segment_size_for(10 * kMiB - 512) == 20 * kMiB);
  CHECK(segment_size_for(10 * kMiB) == 10 * kMiB);
  CHECK(segment_size_for(10 * kMiB + 512) == 12 * kMiB);
  CHECK(segment_size_for(100 * kMiB) == 100 * kMiB);
}
