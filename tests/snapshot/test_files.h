// Files for the snapshot tests: the real PyTorch snapshots kept in
// tests/fixtures/torch-snapshots, and temporary folders.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "report/snapshot/pickle_reader.h"

namespace oomtrace::test {

std::string fixture_path(const std::string& name);  // e.g. "eor_nn_snapshot.pickle"
std::vector<uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, std::string_view bytes);

report::PickleResult parse(std::string_view bytes);

class TempFolder {
 public:
  TempFolder();
  ~TempFolder();
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace oomtrace::test
