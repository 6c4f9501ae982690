// The pickle reader facing hostile input: everything that would run code is
// refused by name, and malformed, truncated, deep, huge or self-referencing
// input ends in one line of error, never a crash, a hang or a big
// allocation.
#include <catch2/catch.hpp>

#include "pickle_compose.h"
#include "plain_pickles.h"
#include "report/snapshot/pickle_reader.h"
#include "report/snapshot/torch_snapshot.h"
#include "test_files.h"

using namespace oomtrace::report;
using namespace oomtrace::test;
using namespace std::string_literals;

namespace {

std::string error_of(std::string_view bytes) {
  PickleResult result = parse(bytes);
  REQUIRE_FALSE(result.document.has_value());
  REQUIRE_FALSE(result.error.empty());
  CHECK(result.error.find('\n') == std::string::npos);
  return result.error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a pickle that calls a function is refused with its name", "[pickle][hostile]") {
  // pickle.dumps of an object whose __reduce__ returns (os.system, ("id",)),
  // protocols 0 and 2, as CPython writes them.
  CHECK(error_of("cposix\nsystem\np0\n(Vid\np1\ntp2\nRp3\n."s) ==
        "refusing to load: the pickle calls posix.system; only plain data is read");
  CHECK(error_of("\x80\x02" "cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."s) ==
        "refusing to load: the pickle calls posix.system; only plain data is read");
  // Protocol 4 names it on the stack (STACK_GLOBAL).
  CHECK(error_of("\x80\x04\x8c\x02os\x8c\x06system\x93."s) ==
        "refusing to load: the pickle calls os.system; only plain data is read");
  // INST names it in its argument.
  CHECK(error_of("(S'id'\nios\nsystem\n."s) == "refusing to load: the pickle calls os.system; only plain data is read");
}

TEST_CASE("every opcode that imports, calls or builds objects is refused", "[pickle][hostile]") {
  struct Case {
    const char* opcode;
    std::string bytes;
  };
  const Case cases[] = {
      {"GLOBAL", "c__builtin__\neval\n."s},
      {"STACK_GLOBAL without names", "\x80\x04NN\x93."s},
      {"REDUCE", "\x80\x02N)R."s},
      {"BUILD", "\x80\x02}}b."s},
      {"INST", "(ibuiltins\nlist\n."s},
      {"OBJ", "\x80\x02(N)o."s},
      {"NEWOBJ", "\x80\x02N)\x81."s},
      {"NEWOBJ_EX", "\x80\x04N)}\x92."s},
      {"EXT1", "\x80\x02\x82\x01."s},
      {"EXT2", "\x80\x02\x83\x01\x00."s},
      {"EXT4", "\x80\x02\x84\x01\x00\x00\x00."s},
      {"PERSID", "Pfile\n."s},
      {"BINPERSID", "\x80\x02K\x01Q."s},
      {"NEXT_BUFFER", "\x80\x05\x97."s},
      {"READONLY_BUFFER", "\x80\x05" "C\x01" "a\x98."s},
      {"an unknown opcode", "\x80\x02\xff."s},
  };
  for (const Case& c : cases) {
    INFO(c.opcode);
    std::string error = error_of(c.bytes);
    CHECK(error.rfind("refusing to load: ", 0) == 0);
    CHECK(contains(error, "; only plain data is read"));
  }
  CHECK(contains(error_of("\x80\x02\xff."s), "unknown opcode 0xff"));
}

TEST_CASE("names in a refusal are printed safely", "[pickle][hostile]") {
  std::string error = error_of("c\x1b[31mevil\nx\n."s);
  CHECK(error == "refusing to load: the pickle calls ?[31mevil.x; only plain data is read");
  std::string long_name = error_of("c" + std::string(500, 'm') + "\nx\n.");
  CHECK(long_name.size() < 250);
}

TEST_CASE("a pickle cut short at any byte is an error, never a crash", "[pickle][hostile]") {
  std::vector<std::string_view> pickles(kPlainPickles.begin(), kPlainPickles.end());
  pickles.push_back(kBytesAndSetsPickle);
  for (std::string_view whole : pickles) {
    REQUIRE(parse(whole).document.has_value());
    for (size_t length = 0; length < whole.size(); ++length) {
      INFO("length " << length << " of " << whole.size());
      PickleResult result = parse(whole.substr(0, length));
      CHECK_FALSE(result.document.has_value());
      CHECK_FALSE(result.error.empty());
    }
  }
}

TEST_CASE("nesting is bounded", "[pickle][hostile]") {
  // n empty lists, each appended into the one below: n levels deep.
  auto nested_lists = [](size_t n) { return "\x80\x02" + std::string(n, ']') + std::string(n - 1, 'a') + "."; };
  CHECK(parse(nested_lists(kPickleMaxDepth)).document.has_value());
  CHECK(error_of(nested_lists(kPickleMaxDepth + 1)) ==
        // The 100th APPEND, after PROTO's 2 bytes, 101 lists and 99 APPENDs.
        "pickle not read: it nests deeper than 100 levels (at byte " + std::to_string(2 + 101 + 99) + ")");

  // Tuples built from MARKs: the open marks are bounded too.
  auto nested_tuples = [](size_t n) { return std::string(n, '(') + std::string(n, 't') + "."; };
  CHECK(parse(nested_tuples(kPickleMaxDepth)).document.has_value());
  CHECK(contains(error_of(nested_tuples(kPickleMaxDepth + 1)), "nests deeper than 100 levels"));
  CHECK(contains(error_of(std::string(1000000, '(')), "nests deeper than 100 levels"));
}

TEST_CASE("a huge claimed length is refused before anything is allocated", "[pickle][hostile]") {
  std::string huge = pk::little_endian(uint64_t{1} << 62, 8);
  CHECK(error_of("\x80\x04\x8d" + huge + "abc.") ==
        "not a readable pickle: a 4611686018427387904-byte string runs past the end of the data (4 bytes left) (at byte 2)");
  CHECK(contains(error_of("\x80\x04\x8e" + huge + "."), "4611686018427387904-byte bytes object runs past the end"));
  CHECK(contains(error_of("\x80\x05\x96" + huge + "."), "4611686018427387904-byte bytearray runs past the end"));
  CHECK(contains(error_of("\x80\x04\x95" + huge + "N."), "4611686018427387904-byte frame runs past the end"));
  CHECK(contains(error_of("\x80\x02X\xff\xff\xff\xff" "abc."s), "4294967295-byte string runs past the end"));
  CHECK(contains(error_of("\x80\x02\x8b\xff\xff\xff\x7f" "abc."s), "2147483647-byte integer runs past the end"));
  CHECK(contains(error_of("\x80\x02T\xff\xff\xff\xff" "abc."s), "a negative length"));
}

TEST_CASE("integers beyond 64 bits are refused", "[pickle][hostile]") {
  CHECK(contains(error_of("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00."s), "larger than 64 bits"));
  CHECK(contains(error_of("I99999999999999999999\n."s), "larger than 64 bits"));
  CHECK(contains(error_of("L-99999999999999999999L\n."s), "larger than 64 bits"));
}

TEST_CASE("self-referencing data is refused, not looped over", "[pickle][hostile]") {
  // a = []; a.append(a)
  CHECK(contains(error_of("\x80\x02]q\x00h\x00" "a."s), "puts a container inside itself"));
  // a = []; b = [a]; a.append(b), as CPython writes it.
  CHECK(contains(error_of("\x80\x02]q\x00]q\x01h\x00" "aa."s), "changes a list after placing it inside another value"));
  // d = {}; d["self"] = [d], as CPython writes it.
  CHECK(contains(error_of("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x04self\x94]\x94h\x00" "as."s),
                 "changes a dict after placing it inside another value"));
}

TEST_CASE("memo sharing stays shared: no exponential blow-up", "[pickle][hostile]") {
  // x0 = []; x(k) = [x(k-1), x(k-1)], 60 levels: 2**60 lists if copied.
  std::string bytes = "\x80\x02" + pk::remember("]", 0);
  for (uint8_t k = 1; k <= 60; ++k) bytes += pk::remember("(" + pk::recall(k - 1) + pk::recall(k - 1) + "l", k);
  PickleResult result = parse(bytes + ".");
  REQUIRE(result.document.has_value());
  CHECK(result.document->value_count() < 70);
  CHECK(result.document->reference_count() == 120);
}

TEST_CASE("a snapshot that shares its parts over and over is refused", "[snapshot][hostile]") {
  // 2000 references to one segment holding 2000 references to one block:
  // four million blocks to read from a few kilobytes.
  std::string block = pk::remember(pk::dict({{pk::text("size"), pk::integer(1)},
                                             {pk::text("state"), pk::text("inactive")},
                                             {pk::text("address"), pk::integer(0)}}),
                                   1);
  std::string blocks = "](" + block;
  for (int i = 1; i < 2000; ++i) blocks += pk::recall(1);
  blocks += "e";
  std::string segment = pk::remember(pk::dict({{pk::text("address"), pk::integer(0)},
                                               {pk::text("total_size"), pk::integer(1)},
                                               {pk::text("blocks"), blocks}}),
                                     2);
  std::string segments = "](" + segment;
  for (int i = 1; i < 2000; ++i) segments += pk::recall(2);
  segments += "e";
  std::string bytes = pk::pickle(pk::dict({{pk::text("segments"), segments}}));
  TorchSnapshotResult result = parse_torch_snapshot(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  REQUIRE_FALSE(result.snapshot.has_value());
  CHECK(contains(result.error, "shares parts of itself so often"));
}

TEST_CASE("malformed opcode sequences are one-line errors", "[pickle][hostile]") {
  CHECK(error_of(""s) == "not a readable pickle: it is empty");
  CHECK(contains(error_of("\x80\x02N"s), "ends before the pickle's STOP opcode"));
  CHECK(contains(error_of("\x80\x02."s), "the stack is empty"));
  CHECK(contains(error_of("\x80\x02" "a."s), "the stack is empty"));
  CHECK(contains(error_of("\x80\x02(."s), "the stack is empty"));
  CHECK(contains(error_of("\x80\x02h\x05."s), "memo entry 5 is used before it is set"));
  CHECK(contains(error_of("\x80\x02}K\x01" "a."s), "APPEND on a dict"));
  CHECK(contains(error_of("\x80\x02]K\x01K\x02s."s), "SETITEM on a list"));
  CHECK(contains(error_of("\x80\x02)K\x01" "a."s), "APPEND on a tuple"));
  CHECK(contains(error_of("\x80\x02}(K\x01u."s), "a key without a value"));
  CHECK(contains(error_of("\x80\x02" "e."s), "needs a MARK"));
  CHECK(contains(error_of("\x80\x06N."s), "protocol 6 is newer than this reader"));
  CHECK(contains(error_of("S'unquoted\n."s), "not quoted"));
  CHECK(contains(error_of("Vbad\\u12\n."s), "bad \\u escape"));
  CHECK(contains(error_of("Ino\n."s), "not a decimal number"));
  CHECK(contains(error_of("Fnope\n."s), "not a number"));
  CHECK(contains(error_of("gx\n."s), "memo index is not a number"));
  CHECK(contains(error_of("N"s), "ends before"));
  CHECK(contains(error_of("INT without newline"s), "no end of line"));
}

TEST_CASE("random damage to real pickles never crashes the readers", "[pickle][hostile]") {
  // A fixed seed: the same thousand damaged pickles every run. Each result
  // is a document or a one-line error; the point is that nothing else
  // happens (run under ASan/UBSan to see it).
  std::vector<uint8_t> legacy = read_file(fixture_path("yiyi_oom_snapshot.pickle"));
  std::vector<std::string> originals(kPlainPickles.begin(), kPlainPickles.end());
  originals.emplace_back(legacy.begin(), legacy.end());
  uint64_t state = 0x9e3779b97f4a7c15;
  auto next = [&state] {  // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (const std::string& original : originals) {
    for (int round = 0; round < 150; ++round) {
      std::string damaged = original;
      for (uint64_t flips = 1 + next() % 4; flips > 0; --flips) {
        damaged[next() % damaged.size()] = static_cast<char>(next() & 0xff);
      }
      TorchSnapshotResult result =
          parse_torch_snapshot(reinterpret_cast<const uint8_t*>(damaged.data()), damaged.size());
      CHECK(result.snapshot.has_value() != !result.error.empty());
      CHECK(result.error.find('\n') == std::string::npos);
    }
  }
}
