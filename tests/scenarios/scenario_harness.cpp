#include "scenario_harness.h"

#include <catch2/catch.hpp>

#include "child_process.h"

namespace fs = std::filesystem;
using test_support::read_file;

namespace scenario {

std::vector<fs::path> RunResult::files(const std::string& suffix) const {
  return test_support::files_ending_in(dir, suffix);
}

fs::path RunResult::only(const std::string& suffix) const {
  auto found = files(suffix);
  INFO("files ending in " << suffix << " in " << dir << "; stderr: " << err);
  REQUIRE(found.size() == 1);
  return found.front();
}

nlohmann::json RunResult::report() const { return nlohmann::json::parse(read_file(only(".report.json"))); }

std::string RunResult::text_report() const { return read_file(only(".report.txt")); }

RunResult run(const std::vector<std::string>& argv, const Env& env, bool preload) {
  fs::path base = test_support::fresh_dir("oomtrace-scenario");
  RunResult result;
  result.dir = base / "out";
  fs::create_directories(result.dir);
  test_support::ChildSpec spec;
  spec.argv = argv;
  spec.working_dir = result.dir;
  spec.stdout_path = base / "stdout.txt";
  spec.stderr_path = base / "stderr.txt";
  spec.unset_env = {"LD_PRELOAD"};
  spec.set_env = {{"LD_LIBRARY_PATH", FAKE_CUDA_DIR},
                  {"OOMTRACE_DIR", result.dir.string()},
                  {"OOMTRACE_CLI", OOMTRACE_CLI_PATH}};
  if (preload) spec.set_env["LD_PRELOAD"] = OOMTRACE_LIBRARY_PATH;
  for (const auto& [key, value] : env) spec.set_env[key] = value;
  test_support::ChildExit exit = test_support::wait_for(test_support::spawn(spec));
  result.exit_code = exit.exit_code;
  result.signal = exit.signal;
  result.out = read_file(spec.stdout_path);
  result.err = read_file(spec.stderr_path);
  return result;
}

nlohmann::json report_of(const fs::path& trace) {
  RunResult result = run({cli(), "report", "--format", "json", trace.string()}, {}, false);
  INFO("oomtrace report stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

std::string runtime_scenario() { return SCENARIO_RUNTIME_PATH; }
std::string driver_scenario() { return SCENARIO_DRIVER_PATH; }
std::string lookup_scenario() { return SCENARIO_LOOKUP_PATH; }
std::string cli() { return OOMTRACE_CLI_PATH; }

}  // namespace scenario
