#include "test_files.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace oomtrace::test {

std::string fixture_path(const std::string& name) { return std::string(OOMTRACE_TORCH_SNAPSHOTS) + "/" + name; }

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

report::PickleResult parse(std::string_view bytes) {
  return report::parse_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TempFolder::TempFolder() {
  std::string pattern = (std::filesystem::temp_directory_path() / "oomtrace-snapshot-test.XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempFolder::~TempFolder() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace oomtrace::test
