#include "scenario_harness.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace scenario {
namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

fs::path fresh_dir() {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() /
                 ("oomtrace-scenario-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir / "out");
  return dir;
}

}  // namespace

std::vector<fs::path> RunResult::files(const std::string& suffix) const {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
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
  RunResult result;
  fs::path base = fresh_dir();
  result.dir = base / "out";
  fs::path out_path = base / "stdout.txt";
  fs::path err_path = base / "stderr.txt";
  pid_t child = fork();
  if (child == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (chdir(result.dir.c_str()) != 0) _exit(120);
    setenv("LD_LIBRARY_PATH", FAKE_CUDA_DIR, 1);
    setenv("OOMTRACE_DIR", result.dir.c_str(), 1);
    setenv("OOMTRACE_CLI", OOMTRACE_CLI_PATH, 1);
    unsetenv("LD_PRELOAD");
    if (preload) setenv("LD_PRELOAD", OOMTRACE_LIBRARY_PATH, 1);
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
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
