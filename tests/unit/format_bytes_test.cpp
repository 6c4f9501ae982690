#include <catch2/catch.hpp>

#include "report/common/format_bytes.h"
#include "report/common/text_wrap.h"
#include "trace_builder.h"

using oomtrace::report::format_bytes;
using namespace oomtrace::test;

TEST_CASE("byte counts read like a person writes them", "[format]") {
  CHECK(format_bytes(0) == "0 bytes");
  CHECK(format_bytes(1) == "1 byte");
  CHECK(format_bytes(100) == "100 bytes");
  CHECK(format_bytes(1023) == "1023 bytes");
  CHECK(format_bytes(4 * KiB) == "4.00 KiB");
  CHECK(format_bytes(512 * MiB) == "512.00 MiB");
  CHECK(format_bytes(2 * GiB) == "2.00 GiB");
  CHECK(format_bytes(GiB + GiB / 5) == "1.20 GiB");
  CHECK(format_bytes(1024 * GiB) == "1.00 TiB");
  // Just under a unit rounds up into it, not to "1024.00 MiB".
  CHECK(format_bytes(GiB - 1) == "1.00 GiB");
  CHECK(format_bytes(UINT64_MAX) == "16.00 EiB");
}

TEST_CASE("paragraphs are wrapped under their label", "[format]") {
  using oomtrace::report::wrap;
  CHECK(wrap("short text", "Why: ") == "Why: short text\n");
  std::string wrapped = wrap("one two three four five six", "Why: ", 16);
  CHECK(wrapped == "Why: one two\n     three four\n     five six\n");
  CHECK(wrap("averyveryverylongword x", "", 8) == "averyveryverylongword\nx\n");
}
