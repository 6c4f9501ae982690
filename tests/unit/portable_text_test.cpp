#include <catch2/catch.hpp>

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "allocator/decimal_from_chars.h"
#include "report/common/path_text.h"

// The report code linked into liboomtrace.so avoids std::filesystem and
// std::from_chars for doubles (past its libstdc++ baseline, interpose/
// CMakeLists.txt); what it uses instead must give what they give.

namespace {

// Every path of up to five parts from names, dots and slashes.
std::vector<std::string> generated_paths() {
  const char* parts[] = {"a", "b", ".", "..", "", "/", "//"};
  std::vector<std::string> all;
  std::vector<std::string> shorter = {""};
  for (int length = 1; length <= 5; ++length) {
    std::vector<std::string> longer;
    for (const std::string& start : shorter) {
      for (const char* part : parts) {
        std::string path = start;
        if (!path.empty() && path.back() != '/' && part[0] != '/') path += '/';
        path += part;
        longer.push_back(path);
      }
    }
    all.insert(all.end(), longer.begin(), longer.end());
    shorter = std::move(longer);
  }
  return all;
}

}  // namespace

TEST_CASE("paths are normalized as std::filesystem normalizes them", "[portable]") {
  using namespace oomtrace::report;
  size_t differing = 0;
  for (const std::string& path : generated_paths()) {
    std::string expected = std::filesystem::path(path).lexically_normal().string();
    if (lexically_normal_path(path) != expected) {
      if (++differing < 10) CHECK(lexically_normal_path(path) == expected);
    }
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(path, error);
    expected = error ? path : absolute.lexically_normal().string();
    if (absolute_normal_path(path) != expected) {
      if (++differing < 10) CHECK(absolute_normal_path(path) == expected);
    }
    if (!path.empty() && path.front() == '/') continue;
    for (const char* trace : {"t", "/x/t", "x/y/", "/", "x//t"}) {
      expected = (std::filesystem::path(trace).parent_path() / path).lexically_normal().string();
      if (normal_path_beside(trace, path) != expected) {
        if (++differing < 10) CHECK(normal_path_beside(trace, path) == expected);
      }
    }
  }
  CHECK(differing == 0);
  CHECK(lexically_normal_path("/a/./b/../c//") == "/a/c/");
  CHECK(normal_path_beside("/runs/1/trace.oomtrace", "snapshots/s.pickle") == "/runs/1/snapshots/s.pickle");
}

TEST_CASE("decimal numbers are read as std::from_chars reads a double", "[portable]") {
  std::vector<std::string> texts = {
      "1e400", "-1e400", "1e-400", "1e-310", "4e-324", "2e-324", "0x10", "inf", "-infinity", "InFiNiTy",
      "infinit", "nan", "-nan", "nan(abc_1)", "nan(", "nan()", "nan(a-b)", "nanx", "1.", "  1", ".5", "-.5e-3",
      "1e", "1e+", "1e+5", "1E-5", "+1", "1,5", "-", "", ".", "-.", "e5", "0.1", "1.7976931348623157e308",
      "1.7976931348623159e308", "2.2250738585072011e-308", "-0", "0e-999", "00012.500e01x", "9007199254740993",
      "123456789012345678901234567890.123456789e-10", "1_000"};
  std::mt19937_64 random(20240601);
  for (int i = 0; i < 30000; ++i) {
    uint64_t bits = random();
    double number = 0;
    std::memcpy(&number, &bits, sizeof number);
    char text[64];
    std::snprintf(text, sizeof text, i % 3 == 0 ? "%.17g" : i % 3 == 1 ? "%.6e" : "%.25f", number);
    texts.push_back(text);
  }
  size_t differing = 0;
  for (const std::string& text : texts) {
    double expected = 42, read = 42;
    auto standard = std::from_chars(text.data(), text.data() + text.size(), expected);
    errno = 7;
    auto ours = oomtrace::decimal_from_chars(text.data(), text.data() + text.size(), read);
    bool same = standard.ptr == ours.ptr && standard.ec == ours.ec &&
                (std::memcmp(&expected, &read, sizeof read) == 0 || (std::isnan(expected) && std::isnan(read)));
    if (!same && ++differing < 10) {
      INFO("text '" << text << "': from_chars read " << (standard.ptr - text.data()) << " characters as "
                    << expected << ", decimal_from_chars " << (ours.ptr - text.data()) << " as " << read);
      CHECK(same);
    }
    CHECK(errno == 7);
  }
  CHECK(differing == 0);
}

TEST_CASE("decimal numbers are read alike in a locale with a decimal comma", "[portable]") {
  if (!std::setlocale(LC_NUMERIC, "de_DE.UTF-8") && !std::setlocale(LC_NUMERIC, "fr_FR.UTF-8")) return;
  double read = 0;
  std::string text = "1.5";
  auto result = oomtrace::decimal_from_chars(text.data(), text.data() + text.size(), read);
  std::setlocale(LC_NUMERIC, "C");
  CHECK(result.ptr == text.data() + text.size());
  CHECK(read == 1.5);
}
