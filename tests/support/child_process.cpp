#include "child_process.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace test_support {
namespace {

bool redirect(const fs::path& path, int target) {
  if (path.empty()) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  return fd >= 0 && dup2(fd, target) == target;
}

// In the child, between fork and exec.
[[noreturn]] void become(const ChildSpec& spec) {
  if (!redirect(spec.stdout_path, STDOUT_FILENO) || !redirect(spec.stderr_path, STDERR_FILENO)) {
    _exit(kChildCannotRedirect);
  }
  if (!spec.working_dir.empty() && chdir(spec.working_dir.c_str()) != 0) _exit(kChildCannotChdir);
  for (const std::string& name : spec.unset_env) unsetenv(name.c_str());
  for (const auto& [name, value] : spec.set_env) setenv(name.c_str(), value.c_str(), 1);
  if (spec.file_size_limit != RLIM_INFINITY) {
    rlimit limit{spec.file_size_limit, spec.file_size_limit};
    if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(kChildCannotLimit);
  }
  std::vector<char*> args;
  for (const std::string& arg : spec.argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(kChildCannotExec);
}

ChildExit exit_of(int status) {
  ChildExit result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace

pid_t spawn(const ChildSpec& spec) {
  std::fflush(nullptr);
  pid_t child = fork();
  if (child == 0) become(spec);
  return child;
}

ChildExit wait_for(pid_t child, std::optional<std::chrono::seconds> timeout) {
  int status = 0;
  if (!timeout) {
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    return exit_of(status);
  }
  auto deadline = std::chrono::steady_clock::now() + *timeout;
  for (;;) {
    pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) return exit_of(status);
    if (done < 0 && errno != EINTR) return {};
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      ChildExit result = exit_of(status);
      result.timed_out = true;
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<fs::path> files_ending_in(const fs::path& dir, const std::string& suffix) {
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

fs::path fresh_dir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() /
                 (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace test_support
