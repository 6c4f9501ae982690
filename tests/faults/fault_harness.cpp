#include "fault_harness.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <sys/mount.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace faults {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

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

fs::path fresh_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() / ("oomtrace-faults-" + std::to_string(getpid()) + "-" +
                                              std::to_string(counter++) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<fs::path> RunResult::files(const std::string& suffix) const {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
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

nlohmann::json RunResult::report() const {
  return nlohmann::json::parse(read_file(only(".report.json")));
}

Started start(const std::vector<std::string>& argv, const Options& options) {
  Started started;
  started.base = fresh_dir("run");
  started.dir = options.output_dir.empty() ? started.base / "out" : options.output_dir;
  fs::create_directories(started.base / "out");
  fs::path out_path = started.base / "stdout.txt";
  fs::path err_path = started.base / "stderr.txt";
  std::string preload = options.preload.empty() ? std::string{} : preload_value(options.preload);
  pid_t child = fork();
  if (child == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    fs::path cwd = options.working_dir.empty() ? started.base : options.working_dir;
    if (chdir(cwd.c_str()) != 0) _exit(120);
    setenv("LD_LIBRARY_PATH", FAKE_CUDA_DIR, 1);
    setenv("OOMTRACE_DIR", started.dir.c_str(), 1);
    if (options.name_cli) {
      setenv("OOMTRACE_CLI", OOMTRACE_CLI_PATH, 1);
    } else {
      unsetenv("OOMTRACE_CLI");
    }
    unsetenv("OOMTRACE_FOLLOW_EXEC");
    unsetenv("LD_PRELOAD");
    if (!preload.empty()) setenv("LD_PRELOAD", preload.c_str(), 1);
    for (const auto& [key, value] : options.env) setenv(key.c_str(), value.c_str(), 1);
    if (options.file_size_limit != RLIM_INFINITY) {
      rlimit limit{options.file_size_limit, options.file_size_limit};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(121);
    }
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  started.pid = child;
  return started;
}

RunResult wait(const Started& started, int timeout_s) {
  RunResult result;
  result.dir = started.dir;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(started.pid, &status, WNOHANG);
    if (done == started.pid) break;
    if (done < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      kill(started.pid, SIGKILL);
      waitpid(started.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
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
