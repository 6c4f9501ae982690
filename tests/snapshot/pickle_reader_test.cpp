// The pickle reader on honest input: what Python writes with each protocol
// reads back as the same plain values, sharing kept.
#include <catch2/catch.hpp>

#include <climits>

#include "plain_pickles.h"
#include "report/snapshot/pickle_reader.h"
#include "test_files.h"

using namespace oomtrace::report;
using namespace oomtrace::test;
using namespace std::string_literals;

namespace {

// The value under key, which must be there.
PickleValue at(PickleValue dict, std::string_view key) {
  std::optional<PickleValue> value = dict.get(key);
  REQUIRE(value.has_value());
  return *value;
}

}  // namespace

TEST_CASE("every protocol reads Python's plain values", "[pickle]") {
  for (size_t protocol = 0; protocol < kPlainPickles.size(); ++protocol) {
    DYNAMIC_SECTION("protocol " << protocol) {
      PickleResult result = parse(kPlainPickles[protocol]);
      INFO(result.error);
      REQUIRE(result.document.has_value());
      PickleValue root = result.document->root();
      REQUIRE(root.is(PickleKind::Dict));
      CHECK(root.size() == 13);

      CHECK(at(root, "none").is(PickleKind::None));
      CHECK(at(root, "yes").is(PickleKind::Bool));
      CHECK(at(root, "yes").as_bool());
      CHECK(at(root, "no").is(PickleKind::Bool));
      CHECK_FALSE(at(root, "no").as_bool());
      CHECK(at(root, "small").as_int() == 7);
      CHECK(at(root, "neg").as_int() == -300);
      CHECK(at(root, "big").as_int() == (int64_t{1} << 62) + 5);
      CHECK(at(root, "min").as_int() == INT64_MIN);
      CHECK(at(root, "pi").is(PickleKind::Float));
      CHECK(at(root, "pi").as_float() == 3.25);
      CHECK(at(root, "text").is(PickleKind::String));
      CHECK(at(root, "text").as_text() == "h\xc3\xa9llo \xe2\x82\xac");

      PickleValue list = at(root, "list");
      REQUIRE(list.is(PickleKind::List));
      REQUIRE(list.size() == 3);
      CHECK(list.item(0).as_int() == 1);
      CHECK(list.item(1).as_text() == "two");
      CHECK(list.item(2).as_float() == 3.0);

      PickleValue pair = at(root, "pair");
      REQUIRE(pair.is(PickleKind::Tuple));
      REQUIRE(pair.size() == 2);
      CHECK(pair.item(1).as_int() == 2);

      PickleValue nested = at(at(root, "nested"), "k");
      REQUIRE(nested.size() == 2);
      CHECK(nested.item(0).is(PickleKind::List));
      CHECK(nested.item(0).size() == 0);
      CHECK(nested.item(1).is(PickleKind::Dict));

      // One list reached twice through the memo is one value.
      PickleValue shared = at(root, "shared");
      REQUIRE(shared.size() == 2);
      CHECK(shared.item(0).id() == shared.item(1).id());
      CHECK(shared.item(1).item(1).as_int() == 2);

      CHECK_FALSE(root.get("missing").has_value());
    }
  }
}

TEST_CASE("bytes, sets and frozensets read as plain values", "[pickle]") {
  PickleResult result = parse(kBytesAndSetsPickle);
  REQUIRE(result.document.has_value());
  PickleValue root = result.document->root();
  CHECK(at(root, "blob").is(PickleKind::Bytes));
  CHECK(at(root, "blob").as_text() == "\x00\xff"s);
  CHECK(at(root, "set").is(PickleKind::Set));
  CHECK(at(root, "set").item(0).as_int() == 3);
  CHECK(at(root, "frozen").is(PickleKind::Set));
  CHECK(at(root, "frozen").item(0).as_int() == 4);
}

TEST_CASE("a key set twice keeps both entries and get() finds the later", "[pickle]") {
  // {"a": 1, "a": 2} as SETITEMS would build it.
  PickleResult result = parse("\x80\x02}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "aK\x02u."s);
  REQUIRE(result.document.has_value());
  PickleValue root = result.document->root();
  CHECK(root.size() == 2);
  CHECK(at(root, "a").as_int() == 2);
}

TEST_CASE("reading a value as the wrong kind gives nothing, not garbage", "[pickle]") {
  PickleResult result = parse("\x80\x02X\x03\x00\x00\x00" "abc."s);
  REQUIRE(result.document.has_value());
  PickleValue text = result.document->root();
  CHECK(text.as_int() == 0);
  CHECK(text.as_float() == 0.0);
  CHECK(text.size() == 0);
  CHECK(text.item(5).is(PickleKind::None));
  CHECK(text.key(0).is(PickleKind::None));
  CHECK_FALSE(text.get("a").has_value());
}

TEST_CASE("protocol 0's text forms", "[pickle]") {
  SECTION("STRING with escapes") {
    PickleResult result = parse("S'a\\n\\x41\\101\\'b'\np0\n."s);
    REQUIRE(result.document.has_value());
    CHECK(result.document->root().as_text() == "a\nAA'b");
  }
  SECTION("raw-unicode-escape") {
    PickleResult result = parse("Va\\u00e9\\U0001F600\\x\n."s);
    REQUIRE(result.document.has_value());
    CHECK(result.document->root().as_text() == "a\xc3\xa9\xf0\x9f\x98\x80\\x");
  }
  SECTION("INT 00 and 01 are bools, LONG takes its L") {
    PickleResult result = parse("(I00\nI01\nL-12L\nF-2.5e-3\nt."s);
    REQUIRE(result.document.has_value());
    PickleValue tuple = result.document->root();
    CHECK_FALSE(tuple.item(0).as_bool());
    CHECK(tuple.item(1).as_bool());
    CHECK(tuple.item(2).as_int() == -12);
    CHECK(tuple.item(3).as_float() == -2.5e-3);
  }
}

TEST_CASE("LONG1 reads every 64-bit integer, padded or not", "[pickle]") {
  // 2**63 - 1 as Python writes it (8 bytes), and -1 padded to 9 bytes.
  PickleResult largest = parse("\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f."s);
  REQUIRE(largest.document.has_value());
  CHECK(largest.document->root().as_int() == INT64_MAX);
  PickleResult minus_one = parse("\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff."s);
  REQUIRE(minus_one.document.has_value());
  CHECK(minus_one.document->root().as_int() == -1);
  PickleResult zero = parse("\x80\x02\x8a\x00."s);
  REQUIRE(zero.document.has_value());
  CHECK(zero.document->root().as_int() == 0);
}

TEST_CASE("a snapshot pickle is told from a trace by its first two bytes", "[pickle]") {
  auto looks = [](std::string_view bytes) {
    return looks_like_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  };
  CHECK(looks("\x80\x04\x95"));
  CHECK(looks("\x80\x02"));
  CHECK_FALSE(looks("\x80\x06"));
  CHECK_FALSE(looks("OOMTRACE"));
  CHECK_FALSE(looks("\x80"));
  CHECK_FALSE(looks(""));
}
