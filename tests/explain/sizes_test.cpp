// Sizes as frameworks print them.
#include <catch2/catch.hpp>

#include "report/messages/sizes.h"

using namespace oomtrace::report::messages;

TEST_CASE("sizes in every spelling frameworks use", "[sizes]") {
  CHECK(parse_size("2.00 GiB") == 2ull << 30);
  CHECK(parse_size("12.50 MiB") == 13107200u);
  CHECK(parse_size("179.00 KiB") == 183296u);
  CHECK(parse_size("0 bytes") == 0u);
  CHECK(parse_size("1 byte") == 1u);
  CHECK(parse_size("25,600,000 bytes") == 25600000u);
  CHECK(parse_size("18.00MiB") == 18874368u);
  CHECK(parse_size("6727663616B") == 6727663616u);
  CHECK(parse_size("0B") == 0u);
  CHECK(parse_size("384.0KiB") == 393216u);
  CHECK(parse_size("159.69M") == 167447101u);  // TensorFlow's driver messages: binary
  CHECK(parse_size("67 MB") == 67ull << 20);   // TensorFlow's "with 67 MB memory": MiB
  CHECK(parse_size("1EB") == 1ull << 60);
  CHECK(parse_size("1.05 GiB") == 1127428915u);  // rounded to the nearest byte
  CHECK(parse_size("8.57 MiB") == 8986296u);
}

TEST_CASE("a size beyond 64 bits saturates", "[sizes]") {
  CHECK(parse_size("17179869184.00 GiB") == UINT64_MAX);  // 2^64 bytes: PyTorch's unset limit
  CHECK(parse_size("99999999999999999999 EiB") == UINT64_MAX);
}

TEST_CASE("text that is not a size", "[sizes]") {
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("GiB"));
  CHECK_FALSE(parse_size("12"));          // no unit
  CHECK_FALSE(parse_size("12 apples"));
  CHECK_FALSE(parse_size("2.00 GiBs"));
  CHECK_FALSE(parse_size("2.00 GiB and more"));
}

TEST_CASE("sizes found around markers", "[sizes]") {
  std::string_view text = "(GPU 0; 11.93 GiB total capacity; 0 bytes free; 2,048 bytes cached)";
  auto total = size_before(text, " total capacity");
  REQUIRE(total);
  CHECK(total->bytes == 12809739960u);
  CHECK(size_before(text, " free")->bytes == 0u);
  CHECK(size_before(text, " cached")->bytes == 2048u);
  CHECK(size_after("Tried to allocate 2.11 GiB (GPU", "Tried to allocate ")->bytes == 2265595249u);
  CHECK_FALSE(size_after(text, "no such marker"));
  // "1,2" is not a grouped number: the comma ends it.
  CHECK(size_at("1,2 MiB", 0) == std::nullopt);
  CHECK(integer_after("device ordinal 3 x", "device ordinal ") == 3u);
}
