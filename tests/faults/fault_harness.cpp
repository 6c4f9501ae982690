#include "fault_harness.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <sched.h>
#include <sys/mount.h>

namespace faults {

void add_sanitizer_option(Options& options, const char* variable, const char* option) {
  if (const char* current = std::getenv(variable)) {
    options.env[variable] = std::string(current) + ":" + option;
  }
}

std::string program() { return FAULT_PROGRAM_PATH; }
std::string library() { return OOMTRACE_LIBRARY_PATH; }
std::string library_copy() { return OOMTRACE_LIBRARY_COPY_PATH; }
std::string noop_preload() { return FAULT_NOOP_PRELOAD_PATH; }
std::string enospc_preload() { return FAULT_ENOSPC_PRELOAD_PATH; }
std::string cli() { return OOMTRACE_CLI_PATH; }

std::string preload_value(const std::vector<std::string>& libraries) {
  std::vector<std::string> all;
#ifdef OOMTRACE_SANITIZER_RUNTIME
  all.push_back(OOMTRACE_SANITIZER_RUNTIME);
#endif
  all.insert(all.end(), libraries.begin(), libraries.end());
  std::string value;
  for (const std::string& library : all) value += (value.empty() ? "" : ":") + library;
  return value;
}

fs::path fresh_dir(const std::string& name) { return test_support::fresh_dir("oomtrace-faults-" + name); }

std::vector<fs::path> RunResult::files(const std::string& suffix) const {
  return test_support::files_ending_in(dir, suffix);
}

fs::path RunResult::only(const std::string& suffix) const {
  auto found = files(suffix);
  INFO("files ending in " << suffix << " in " << dir << "; stderr: " << err);
  REQUIRE(found.size() == 1);
  return found.front();
}

nlohmann::json RunResult::report() const {
  return nlohmann::json::parse(read_file(only(".report.json")));
}

Started start(const std::vector<std::string>& argv, const Options& options) {
  Started started;
  started.base = fresh_dir("run");
  started.dir = options.output_dir.empty() ? started.base / "out" : options.output_dir;
  fs::create_directories(started.base / "out");
  test_support::ChildSpec spec;
  spec.argv = argv;
  spec.working_dir = options.working_dir.empty() ? started.base : options.working_dir;
  spec.stdout_path = started.base / "stdout.txt";
  spec.stderr_path = started.base / "stderr.txt";
  spec.file_size_limit = options.file_size_limit;
  spec.unset_env = {"OOMTRACE_FOLLOW_EXEC", "LD_PRELOAD"};
  if (!options.name_cli) spec.unset_env.push_back("OOMTRACE_CLI");
  spec.set_env = {{"LD_LIBRARY_PATH", FAKE_CUDA_DIR}, {"OOMTRACE_DIR", started.dir.string()}};
  if (options.name_cli) spec.set_env["OOMTRACE_CLI"] = OOMTRACE_CLI_PATH;
  if (!options.preload.empty()) spec.set_env["LD_PRELOAD"] = preload_value(options.preload);
  for (const auto& [key, value] : options.env) spec.set_env[key] = value;
  started.pid = test_support::spawn(spec);
  return started;
}

RunResult wait(const Started& started, int timeout_s) {
  test_support::ChildExit exit = test_support::wait_for(started.pid, std::chrono::seconds(timeout_s));
  RunResult result;
  result.dir = started.dir;
  result.exit_code = exit.exit_code;
  result.signal = exit.signal;
  result.timed_out = exit.timed_out;
  result.out = read_file(started.base / "stdout.txt");
  result.err = read_file(started.base / "stderr.txt");
  return result;
}

RunResult run(const std::vector<std::string>& argv, const Options& options, int timeout_s) {
  return wait(start(argv, options), timeout_s);
}

nlohmann::json report_of(const fs::path& trace) {
  Options options;
  options.preload.clear();
  RunResult result = run({cli(), "report", "--format", "json", trace.string()}, options);
  INFO("oomtrace report stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  return nlohmann::json::parse(result.out);
}

bool mount_small_filesystem(const fs::path& dir, uint64_t size_bytes, bool read_only) {
  // Once per test process: a private mount namespace, so that a mount made
  // here is seen by the programs this process starts and by nothing else,
  // and disappears with the process however it ends.
  static const bool private_namespace = [] {
    if (unshare(CLONE_NEWNS) != 0) return false;
    return mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  }();
  if (!private_namespace) return false;
  std::string data = "size=" + std::to_string(size_bytes) + ",mode=0700";
  unsigned long flags = MS_NOSUID | MS_NODEV | (read_only ? MS_RDONLY : 0);
  return mount("oomtrace-faults", dir.c_str(), "tmpfs", flags, data.c_str()) == 0;
}

void unmount(const fs::path& dir) { umount2(dir.c_str(), MNT_DETACH); }

}  // namespace faults
