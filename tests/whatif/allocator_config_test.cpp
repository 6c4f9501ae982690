// PYTORCH_CUDA_ALLOC_CONF read as PyTorch reads it, refused where PyTorch
// refuses it, and written back.
#include <catch2/catch.hpp>

#include "allocator/caching_allocator/allocator_config.h"

using namespace oomtrace::caching;

namespace {

AllocatorConfig parsed(const std::string& text) {
  ConfigParse result = parse_alloc_conf(text);
  INFO(result.error);
  REQUIRE(result.config);
  return *result.config;
}

std::string refusal(const std::string& text) {
  ConfigParse result = parse_alloc_conf(text);
  REQUIRE_FALSE(result.config);
  REQUIRE(result.error.find('\n') == std::string::npos);
  return result.error;
}

}  // namespace

TEST_CASE("an empty string gives PyTorch's defaults") {
  AllocatorConfig config = parsed("");
  CHECK(config == AllocatorConfig{});
  CHECK_FALSE(config.has_max_split_size());
  CHECK(describe(config) == "defaults");
}

TEST_CASE("the example from the issue sets every option") {
  AllocatorConfig config = parsed(
      "expandable_segments:True,max_split_size_mb:128,garbage_collection_threshold:0.8,"
      "roundup_power2_divisions:[256:1,512:2,1024:4,>:8]");
  CHECK(config.expandable_segments);
  CHECK(config.max_split_size == 128 * kMiB);
  CHECK(config.garbage_collection_threshold == Approx(0.8));
  // 256 MiB is interval 8: it and everything below get 1; 512 MiB (9)
  // gets 2; ">" fills from the last interval named (10, 1024 MiB) on, so
  // 1024's own 4 is overwritten, as PyTorch's parser does.
  for (size_t i = 0; i <= 8; ++i) CHECK(config.roundup_power2_divisions[i] == 1);
  CHECK(config.roundup_power2_divisions[9] == 2);
  for (size_t i = 10; i < kRoundupIntervals; ++i) CHECK(config.roundup_power2_divisions[i] == 8);
}

TEST_CASE("spaces are ignored and a single division count covers every interval") {
  AllocatorConfig config = parsed(" roundup_power2_divisions : 4 , max_non_split_rounding_mb:40");
  for (uint32_t divisions : config.roundup_power2_divisions) CHECK(divisions == 4);
  CHECK(config.max_non_split_rounding == 40 * kMiB);
  CHECK(config.divisions_for(100) == 4);
}

TEST_CASE("divisions are looked up by the request's power-of-two interval") {
  AllocatorConfig config = parsed("roundup_power2_divisions:[1:2,2:4,>:8]");
  CHECK(config.divisions_for(512) == 2);          // below 1 MiB: interval 0
  CHECK(config.divisions_for(kMiB + 5) == 2);     // [1, 2) MiB
  CHECK(config.divisions_for(3 * kMiB) == 8);     // [2, 4) MiB: ">" from interval 1 on
  CHECK(config.divisions_for(uint64_t{1} << 40) == 8);  // beyond 32 GiB: the last interval
}

TEST_CASE("options that do not change the policy are checked and accepted") {
  AllocatorConfig config = parsed(
      "backend:native,release_lock_on_cudamalloc:True,pinned_use_cuda_host_register:False,"
      "pinned_num_register_threads:8");
  CHECK(config == AllocatorConfig{});
}

TEST_CASE("a string PyTorch refuses is refused with the reason") {
  CHECK_THAT(refusal("max_split_size_mb:8"), Catch::Contains("at least 20"));
  CHECK_THAT(refusal("max_split_size_mb:12x"), Catch::Contains("not a whole number"));
  CHECK_THAT(refusal("garbage_collection_threshold:1.5"), Catch::Contains("between 0 and 1"));
  CHECK_THAT(refusal("expandable_segments:true"), Catch::Contains("True or False"));
  CHECK_THAT(refusal("roundup_power2_divisions:3"), Catch::Contains("power of 2"));
  CHECK_THAT(refusal("roundup_power2_divisions:[300:2]"), Catch::Contains("interval 300"));
  CHECK_THAT(refusal("roundup_power2_divisions:[256:2"), Catch::Contains("after roundup_power2_divisions entry 256"));
  CHECK_THAT(refusal("expandable_segment:True"), Catch::Contains("unrecognized option 'expandable_segment'"));
  CHECK_THAT(refusal("max_split_size_mb"), Catch::Contains("expected ':'"));
  CHECK_THAT(refusal("max_split_size_mb:128 expandable_segments:True"), Catch::Contains("not a whole number"));
  CHECK_THAT(refusal("max_split_size_mb:128;expandable_segments:True"), Catch::Contains("not a whole number"));
  CHECK_THAT(refusal("backend:cudaMallocAsync"), Catch::Contains("native caching allocator"));
  CHECK_THAT(refusal("per_process_memory_fraction:0.5"), Catch::Contains("unrecognized"));
}

TEST_CASE("oomtrace's own memory-fraction key is read only when asked for") {
  ConfigParse result = parse_alloc_conf("per_process_memory_fraction:0.5", {}, ExtraKeys::Accept);
  REQUIRE(result.config);
  CHECK(*result.config->memory_fraction == Approx(0.5));
  CHECK_FALSE(parse_alloc_conf("per_process_memory_fraction:2", {}, ExtraKeys::Accept).config);
}

TEST_CASE("a string applies on top of a base") {
  AllocatorConfig base = parsed("max_split_size_mb:256");
  ConfigParse result = parse_alloc_conf("expandable_segments:True", base);
  REQUIRE(result.config);
  CHECK(result.config->max_split_size == 256 * kMiB);
  CHECK(result.config->expandable_segments);
}

TEST_CASE("describe writes a string that reads back to the same settings") {
  for (const char* text : {"expandable_segments:True", "max_split_size_mb:512,roundup_power2_divisions:4",
                           "roundup_power2_divisions:[256:1,512:2,1024:4,>:8]",
                           "roundup_power2_divisions:[1:0,2:4,4:4,8:2]", "garbage_collection_threshold:0.6",
                           "max_non_split_rounding_mb:64"}) {
    AllocatorConfig config = parsed(text);
    ConfigParse again = parse_alloc_conf(describe(config));
    INFO(text << " -> " << describe(config));
    REQUIRE(again.config);
    CHECK(*again.config == config);
  }
  CHECK(describe(parsed("max_split_size_mb:128,expandable_segments:True")) ==
        "expandable_segments:True,max_split_size_mb:128");
}
