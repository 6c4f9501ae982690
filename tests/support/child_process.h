// Starting a program the way the end-to-end tests, the fault tests and the
// overhead benchmark all do: in a chosen folder, with a changed environment,
// its output captured to files, and waiting for it with or without a time
// limit. No test framework here: the benchmark links it too.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

namespace test_support {

namespace fs = std::filesystem;

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  std::vector<std::string> unset_env;  // removed first,
  std::map<std::string, std::string> set_env;  // then these set
  fs::path working_dir;  // empty: this process's
  fs::path stdout_path;  // empty: inherited
  fs::path stderr_path;  // empty: inherited
  rlim_t file_size_limit = RLIM_INFINITY;
};

// Exit codes of a child that failed before its program ran.
constexpr int kChildCannotRedirect = 126;
constexpr int kChildCannotExec = 127;
constexpr int kChildCannotChdir = 120;
constexpr int kChildCannotLimit = 121;

// Forks and execs; returns the child's pid. Flushes this process's stdio
// first, or the child would write buffered lines a second time.
pid_t spawn(const ChildSpec& spec);

struct ChildExit {
  int exit_code = -1;  // when the program exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
};

// Waits for `child`; past `timeout` (when given) kills it with SIGKILL and
// says so.
ChildExit wait_for(pid_t child, std::optional<std::chrono::seconds> timeout = std::nullopt);

std::string read_file(const fs::path& path);

// The files directly in `dir` whose names end in `suffix`, sorted.
std::vector<fs::path> files_ending_in(const fs::path& dir, const std::string& suffix);

// A new empty folder in the temporary directory, named after `prefix`, this
// process and a counter.
fs::path fresh_dir(const std::string& prefix);

}  // namespace test_support
