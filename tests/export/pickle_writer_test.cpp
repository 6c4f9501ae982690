// The pickle writer, read back through oomtrace's own plain-data reader.
#include <catch2/catch.hpp>

#include <climits>
#include <string>

#include "report/render/export/pickle_writer.h"
#include "report/snapshot/pickle_reader.h"

using namespace oomtrace::report;

namespace {

PickleDocument read_back(const std::string& bytes) {
  PickleResult result = parse_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  INFO(result.error);
  REQUIRE(result.document.has_value());
  return std::move(*result.document);
}

}  // namespace

TEST_CASE("pickle writer: integers at every encoding's edges") {
  const int64_t values[] = {0, 255, 256, 65535, 65536, -1, INT32_MIN, INT32_MAX, int64_t{INT32_MAX} + 1,
                            int64_t{INT32_MIN} - 1, INT64_MAX, INT64_MIN};
  PickleWriter out;
  out.begin_list();
  for (int64_t value : values) out.integer(value);
  out.unsigned_integer(uint64_t{1} << 40);
  out.end_list();
  PickleDocument document = read_back(out.finish());
  PickleValue list = document.root();
  REQUIRE(list.is(PickleKind::List));
  REQUIRE(list.size() == std::size(values) + 1);
  for (size_t i = 0; i < std::size(values); ++i) {
    INFO(values[i]);
    CHECK(list.item(i).as_int() == values[i]);
  }
  CHECK(list.item(std::size(values)).as_int() == int64_t{1} << 40);
}

TEST_CASE("pickle writer: dicts, tuples, floats, bools, None and long strings") {
  std::string long_text(300, 'x');
  PickleWriter out;
  out.begin_dict();
  out.text("pair");
  out.begin_tuple();
  out.integer(0);
  out.integer(7);
  out.end_tuple();
  out.text("float");
  out.floating(0.25);
  out.text("flags");
  out.begin_list();
  out.boolean(true);
  out.boolean(false);
  out.none();
  out.end_list();
  out.text("long");
  out.text(long_text);
  out.text("empty");
  out.begin_dict();
  out.end_dict();
  out.end_dict();
  PickleDocument document = read_back(out.finish());
  PickleValue root = document.root();
  REQUIRE(root.is(PickleKind::Dict));
  PickleValue pair = *root.get("pair");
  REQUIRE(pair.is(PickleKind::Tuple));
  CHECK(pair.item(1).as_int() == 7);
  CHECK(root.get("float")->as_float() == 0.25);
  PickleValue flags = *root.get("flags");
  CHECK(flags.item(0).as_bool());
  CHECK_FALSE(flags.item(1).as_bool());
  CHECK(flags.item(2).is(PickleKind::None));
  CHECK(root.get("long")->as_text() == long_text);
  CHECK(root.get("empty")->size() == 0);
}

TEST_CASE("pickle writer: repeated strings and shared lists come back through the memo") {
  PickleWriter out;
  out.begin_list();
  out.begin_list();
  out.text("shared");
  out.end_list();
  uint32_t shared = out.remember();
  for (int i = 0; i < 600; ++i) out.repeated_text("key " + std::to_string(i % 300));  // memo past 255: LONG_BINGET
  out.recall(shared);
  out.end_list();
  PickleDocument document = read_back(out.finish());
  PickleValue list = document.root();
  REQUIRE(list.size() == 602);
  CHECK(list.item(1).as_text() == "key 0");
  CHECK(list.item(301).as_text() == "key 0");
  CHECK(list.item(600).as_text() == "key 299");
  CHECK(list.item(600).id() == list.item(300).id());
  CHECK(list.item(601).id() == list.item(0).id());
  CHECK(list.item(601).item(0).as_text() == "shared");
}

TEST_CASE("pickle writer: unbalanced containers give nothing rather than a broken pickle") {
  PickleWriter open;
  open.begin_list();
  CHECK(open.finish().empty());
  PickleWriter closed_twice;
  closed_twice.begin_dict();
  closed_twice.end_dict();
  closed_twice.end_dict();
  CHECK(closed_twice.finish().empty());
}
