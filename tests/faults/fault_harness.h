// Runs fault_program (or any command) under liboomtrace.so on the simulated
// device, like tests/scenarios/scenario_harness.h (both start programs with
// tests/support/child_process.h), with what fault tests
// need besides: a process started in the background (to be killed from
// outside), a time limit (a deadlock fails the test instead of hanging it),
// an exact LD_PRELOAD list, a file size limit, and a chosen output folder.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <sys/resource.h>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.h"

namespace faults {

namespace fs = std::filesystem;
using Env = std::map<std::string, std::string>;

std::string program();       // fault_program
std::string library();       // liboomtrace.so
std::string library_copy();  // the same library copied to another folder
std::string noop_preload();  // a preload library that does nothing
std::string enospc_preload();  // makes posix_fallocate fail with ENOSPC past FAULT_DISK_BYTES
std::string cli();           // oomtrace

struct Options {
  Env env;
  // LD_PRELOAD, in order. In a sanitized build the sanitizer's runtime is
  // put first (it must be the first object loaded).
  std::vector<std::string> preload = {library()};
  fs::path output_dir;  // OOMTRACE_DIR; empty: a fresh folder
  fs::path working_dir;  // empty: the run's own fresh folder
  bool name_cli = true;  // OOMTRACE_CLI set to the built oomtrace
  rlim_t file_size_limit = RLIM_INFINITY;
};

// The LD_PRELOAD value `run` sets for a preload list.
std::string preload_value(const std::vector<std::string>& libraries);

struct RunResult {
  int exit_code = -1;  // when the program exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  std::string out;
  std::string err;
  fs::path dir;  // OOMTRACE_DIR of the run

  std::vector<fs::path> files(const std::string& suffix) const;
  fs::path only(const std::string& suffix) const;
  nlohmann::json report() const;  // the one .report.json
};

struct Started {
  pid_t pid = -1;
  fs::path base;  // a fresh folder of the run's own (stdout, stderr, flags)
  fs::path dir;   // OOMTRACE_DIR
};

Started start(const std::vector<std::string>& argv, const Options& options = {});
// Waits at most `timeout_s`; past it the process is killed and timed_out set.
RunResult wait(const Started& started, int timeout_s = 120);
RunResult run(const std::vector<std::string>& argv, const Options& options = {},
              int timeout_s = 120);

using test_support::read_file;

// Appends `option` to a sanitizer's options (ASAN_OPTIONS, TSAN_OPTIONS) for
// one run, when the test runs sanitized; nothing otherwise.
void add_sanitizer_option(Options& options, const char* variable, const char* option);

// `oomtrace report --format json TRACE`, parsed.
nlohmann::json report_of(const fs::path& trace);

// A fresh empty folder (for a test's own files).
fs::path fresh_dir(const std::string& name);

// Mounts a tmpfs of `size_bytes` (read-only when asked) on `dir`, inside a
// mount namespace of this test process's own, so that nothing outlives it.
// False where mounting is not permitted (an unprivileged container).
bool mount_small_filesystem(const fs::path& dir, uint64_t size_bytes, bool read_only);
void unmount(const fs::path& dir);

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kBlock = 2 * kMiB;

}  // namespace faults
