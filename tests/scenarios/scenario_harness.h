// Runs a scenario program in a fresh output folder, with liboomtrace.so
// preloaded and the simulated CUDA device on the library path, and collects
// what it left behind.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scenario {

struct RunResult {
  int exit_code = -1;    // when the program exited
  int signal = 0;        // when a signal ended it
  std::string out;
  std::string err;
  std::filesystem::path dir;  // OOMTRACE_DIR of the run

  std::vector<std::filesystem::path> files(const std::string& suffix) const;
  std::filesystem::path only(const std::string& suffix) const;
  nlohmann::json report() const;  // the one .report.json
  std::string text_report() const;
};

using Env = std::map<std::string, std::string>;

RunResult run(const std::vector<std::string>& argv, const Env& env = {}, bool preload = true);
// `oomtrace report --format json TRACE`, parsed.
nlohmann::json report_of(const std::filesystem::path& trace);

std::string runtime_scenario();
std::string driver_scenario();
std::string lookup_scenario();
std::string cli();

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

}  // namespace scenario
