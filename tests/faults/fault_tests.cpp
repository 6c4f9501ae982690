// Faults the library must survive when preloaded into any program: kills
// from outside, crashes, unusual exits, exec, fork among threads, a full or
// read-only output disk, and the library loaded twice. Each test runs
// fault_program on the simulated device under liboomtrace.so and checks
// what the program did and what the library left behind.
// docs/reliability.md lists each fault with the test that proves it.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <cstdlib>
#include <csignal>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "fault_harness.h"
#include "trace/reader.h"

using namespace faults;
using nlohmann::json;

namespace {

const Env kEightGiB = {{"FAKE_CUDA_TOTAL_MIB", "8192"}};

uint64_t count_of(const json& report, const char* total) {
  return report["totals"][total].get<uint64_t>();
}

uint64_t live_count(const json& report) {
  return report["live_at_end"].empty() ? 0 : report["live_at_end"][0]["count"].get<uint64_t>();
}

// A trace read back whole: every free matches an allocation, and what is
// live is what was allocated and not freed.
void check_consistent(const json& report) {
  INFO(report["totals"].dump());
  CHECK(count_of(report, "unmatched_frees") == 0);
  CHECK(live_count(report) == count_of(report, "allocations") - count_of(report, "frees"));
  CHECK(report["trace"]["events"].get<uint64_t>() ==
        count_of(report, "allocations") + count_of(report, "frees") +
            count_of(report, "failed_allocations"));
}

size_t lines_in(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

void wait_for(const fs::path& file) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(file) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(fs::exists(file));
}

// The program's output with and without the library must be the same, and
// the library says exactly one line.
void check_runs_on_with_one_warning(const RunResult& with, const RunResult& without,
                                    const std::string& warning) {
  INFO("stderr with the library: " << with.err);
  REQUIRE_FALSE(with.timed_out);
  CHECK(with.signal == 0);
  CHECK(with.exit_code == without.exit_code);
  CHECK(with.out == without.out);
  CHECK(lines_in(with.err) == 1);
  CHECK_THAT(with.err, Catch::StartsWith("oomtrace: "));
  CHECK_THAT(with.err, Catch::Contains(warning));
}

Options with_env(const Env& env) {
  Options options;
  options.env = env;
  return options;
}

Options without_library(Options options) {
  options.preload.clear();
  return options;
}

// For programs whose own signal handler calls exit(), which is not
// async-signal-safe: that is the fault under test, not a finding. ThreadSanitizer
// reports it (and exits 66); LeakSanitizer's check at exit locks the allocator,
// which the interrupted thread may hold (it hangs there without the library
// too). The library's own exit path is what these tests check.
Options exit_from_signal_handler(Options options) {
  add_sanitizer_option(options, "ASAN_OPTIONS", "detect_leaks=0");
  add_sanitizer_option(options, "TSAN_OPTIONS", "report_signal_unsafe=0");
  return options;
}

}  // namespace

// ------------------------------------------------------------------ SIGKILL

TEST_CASE("SIGKILL from another process while 8 threads allocate: the trace reads whole") {
  fs::path flags = fresh_dir("kill");
  fs::path ready = flags / "ready";
  Options options;
  options.env = {{"OOMTRACE_STACKS", "1"}};
  Started started = start({program(), "threads_until_killed", "8", ready.string()}, options);
  wait_for(ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(kill(started.pid, SIGKILL) == 0);
  RunResult result = wait(started, 60);
  REQUIRE(result.signal == SIGKILL);
  CHECK(result.files(".report.json").empty());
  json report = report_of(result.only(".trace"));
  CHECK(report["trace"]["complete"] == false);
  CHECK(count_of(report, "allocations") >= 8 * 200);
  CHECK(count_of(report, "failed_allocations") == 0);
  check_consistent(report);
  // Each thread frees before it allocates and keeps at most four blocks.
  CHECK(live_count(report) <= 8 * 4);
  CHECK(report["live_at_end"][0]["bytes"].get<uint64_t>() == live_count(report) * kBlock);
}

TEST_CASE("SIGKILL while 8 threads allocate: every committed record reads back, none torn") {
  constexpr int kThreads = 8;
  fs::path flags = fresh_dir("kill-ledger");
  fs::path ready = flags / "ready";
  fs::path ledger_path = flags / "ledger";
  Options options;
  options.env = {{"OOMTRACE_STACKS", "1"}};
  Started started =
      start({program(), "threads_with_ledger", std::to_string(kThreads), ready.string(), ledger_path.string()}, options);
  wait_for(ready);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(kill(started.pid, SIGKILL) == 0);
  RunResult result = wait(started, 60);
  REQUIRE(result.signal == SIGKILL);

  // The ledger: {tid, allocations returned} per thread, as the process left it.
  std::string ledger_bytes = read_file(ledger_path);
  REQUIRE(ledger_bytes.size() == kThreads * 2 * sizeof(uint64_t));
  std::vector<uint64_t> ledger(kThreads * 2);
  std::memcpy(ledger.data(), ledger_bytes.data(), ledger_bytes.size());

  // Read with the trace reader itself: a torn record would be corruption.
  oomtrace::trace::ReadResult read = oomtrace::trace::read_trace(result.only(".trace"));
  REQUIRE(read.error == "");
  REQUIRE(read.trace);
  std::map<uint32_t, uint64_t> allocations_by_thread;
  uint64_t malformed = 0;  // counted, not checked one by one: there are many
  for (const oomtrace::Event& event : read.trace->events) {
    if (event.type == oomtrace::EventType::AllocFailed) ++malformed;
    if (event.type != oomtrace::EventType::Alloc) continue;
    if (event.size != kBlock || event.address == 0) ++malformed;
    ++allocations_by_thread[event.thread];
  }
  CHECK(malformed == 0);
  for (int t = 0; t < kThreads; ++t) {
    uint64_t tid = ledger[2 * t];
    uint64_t returned = ledger[2 * t + 1];
    INFO("thread " << t << " (tid " << tid << ")");
    REQUIRE(tid != 0);
    CHECK(returned >= 200);
    // Every allocation that returned was recorded; at most the one in
    // flight at the kill was recorded and not yet counted.
    CHECK(allocations_by_thread[static_cast<uint32_t>(tid)] >= returned);
    CHECK(allocations_by_thread[static_cast<uint32_t>(tid)] <= returned + 1);
  }
}

// ------------------------------------------------------- crashes and abort

TEST_CASE("SIGSEGV in the program: the report is written from the signal handler") {
  RunResult result = run({program(), "segv"}, with_env(kEightGiB));
  REQUIRE(result.signal == SIGSEGV);
  json report = result.report();
  CHECK(report["trace"]["complete"] == true);
  CHECK(report["trace"]["exit_reason"] == "signal SIGSEGV");
  CHECK(count_of(report, "failed_allocations") == 1);
  CHECK(report["failures"][0]["verdict"] == "exceeds_capacity");
  CHECK(result.files(".report.txt").size() == 1);
}

TEST_CASE("SIGSEGV while other threads are inside CUDA calls: no deadlock, report written") {
  for (int attempt = 0; attempt < 3; ++attempt) {
    RunResult result = run({program(), "segv_while_threads", "4"}, {}, 60);
    INFO("attempt " << attempt << "; stderr: " << result.err);
    REQUIRE_FALSE(result.timed_out);
    REQUIRE(result.signal == SIGSEGV);
    json report = result.report();
    // The trailer is written only when no other thread held the recorder.
    if (report["trace"]["complete"] == true) {
      CHECK(report["trace"]["exit_reason"] == "signal SIGSEGV");
    }
    CHECK(count_of(report, "allocations") >= 4);
    CHECK(count_of(report, "unmatched_frees") == 0);
  }
}

TEST_CASE("abort() in the program: the report is written from the signal handler") {
  RunResult result = run({program(), "abort"}, with_env(kEightGiB));
  REQUIRE(result.signal == SIGABRT);
  json report = result.report();
  CHECK(report["trace"]["exit_reason"] == "signal SIGABRT");
  CHECK(count_of(report, "failed_allocations") == 1);
}

// ------------------------------------------------- exits from odd places

TEST_CASE("the program's own signal handler calls exit(): report written, trace complete") {
  RunResult result =
      run({program(), "exit_in_handler", "7"}, exit_from_signal_handler(with_env(kEightGiB)));
  REQUIRE(result.exit_code == 7);
  json report = result.report();
  CHECK(report["trace"]["complete"] == true);
  CHECK(report["trace"]["exit_reason"] == "exit");
  CHECK(count_of(report, "allocations") == 5);
  CHECK(count_of(report, "frees") == 1);
  CHECK(count_of(report, "failed_allocations") == 1);
}

TEST_CASE("exit() from a signal handler that interrupted a CUDA call: no deadlock, report written") {
  // The handler runs on the thread that is inside the library (almost
  // always: the program does nothing but allocate), which may hold the
  // recorder's lock or be inside malloc. The exit path must not wait for it.
  Options options = exit_from_signal_handler({});
  for (int attempt = 0; attempt < 5; ++attempt) {
    RunResult result = run({program(), "exit_in_handler_inside_cuda", "7"}, options, 60);
    INFO("attempt " << attempt << "; stderr: " << result.err);
    REQUIRE_FALSE(result.timed_out);
    REQUIRE(result.exit_code == 7);
    json report = result.report();
    CHECK(count_of(report, "unmatched_frees") == 0);
    CHECK(count_of(report, "allocations") >= 1);
  }
}

TEST_CASE("the program's own signal handler calls _exit(): no report, trace readable") {
  RunResult result = run({program(), "_exit_in_handler", "7"}, with_env(kEightGiB));
  REQUIRE(result.exit_code == 7);
  CHECK(result.files(".report.json").empty());
  CHECK(result.files(".report.txt").empty());
  json report = report_of(result.only(".trace"));
  CHECK(report["trace"]["complete"] == false);
  CHECK(count_of(report, "allocations") == 5);
  CHECK(count_of(report, "failed_allocations") == 1);
  check_consistent(report);
}

TEST_CASE("_exit(): no report, no trailer, the trace reads whole") {
  RunResult result = run({program(), "_exit"});
  REQUIRE(result.exit_code == 4);
  CHECK(result.out == "allocated 5\n");
  CHECK(result.files(".report.json").empty());
  json report = report_of(result.only(".trace"));
  CHECK(report["trace"]["complete"] == false);
  CHECK(report["trace"]["exit_reason"].is_null());
  CHECK(count_of(report, "allocations") == 5);
  CHECK(count_of(report, "frees") == 1);
  check_consistent(report);
}

// --------------------------------------------------------------------- exec

namespace {

// What the new program must see in LD_PRELOAD: the list without any copy of
// the library (or "(unset)" when nothing is left).
std::string preload_without_library(const std::vector<std::string>& preload) {
  std::vector<std::string> kept;
  for (const std::string& entry : preload) {
    if (entry != library() && entry != library_copy()) kept.push_back(entry);
  }
  std::string value = preload_value(kept);
  return value.empty() ? "(unset)" : value;
}

std::multiset<uint64_t> allocation_counts(const RunResult& result) {
  std::multiset<uint64_t> counts;
  for (const fs::path& trace : result.files(".trace")) {
    counts.insert(count_of(report_of(trace), "allocations"));
  }
  return counts;
}

const std::vector<std::string> kExecFunctions = {
    "execve", "execv",       "execvp",       "execvpe", "execl",  "execle", "execlp",
    "fexecve", "execveat",   "posix_spawn",  "posix_spawnp", "system", "popen", "vfork"};

}  // namespace

TEST_CASE("exec: the new program runs without the library unless OOMTRACE_FOLLOW_EXEC=1") {
  Options options;
  options.preload = {library(), noop_preload()};
  std::string expected = "child LD_PRELOAD=" + preload_without_library(options.preload) + "\n";
  for (const std::string& how : kExecFunctions) {
    SECTION(how) {
      RunResult result = run({program(), "exec", how}, options, 60);
      INFO("stderr: " << result.err);
      REQUIRE(result.exit_code == 0);
      CHECK_THAT(result.out, Catch::Contains(expected));
      // Only the caller's trace; the new program writes nothing.
      auto traces = result.files(".trace");
      REQUIRE(traces.size() == 1);
      if (how != "vfork") CHECK(count_of(report_of(traces[0]), "allocations") == 2);

      Options follow = options;
      follow.env["OOMTRACE_FOLLOW_EXEC"] = "1";
      RunResult followed = run({program(), "exec", how}, follow, 60);
      INFO("followed stderr: " << followed.err);
      REQUIRE(followed.exit_code == 0);
      CHECK_THAT(followed.out,
                 Catch::Contains("child LD_PRELOAD=" + preload_value(options.preload) + "\n"));
      auto counts = allocation_counts(followed);
      REQUIRE(counts.size() == 2);
      CHECK(counts.count(3) == 1);
      if (how != "vfork") CHECK(counts == std::multiset<uint64_t>{2, 3});
    }
  }
}

TEST_CASE("exec: every copy of the library leaves LD_PRELOAD, other entries keep their order") {
  Options options;
  options.preload = {noop_preload(), library(), enospc_preload(), library_copy()};
  RunResult result = run({program(), "exec", "execvp"}, options, 60);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out,
             Catch::Contains("child LD_PRELOAD=" + preload_value({noop_preload(), enospc_preload()})));
  CHECK(result.files(".trace").size() == 1);
}

TEST_CASE("exec: an environment too large for the stack buffer passes unchanged") {
  // Documented fallback: the new environment is built without allocating,
  // in fixed buffers (1024 entries); past them the new program is traced.
  Options options;
  for (int i = 0; i < 1100; ++i) options.env["FAULT_FILLER_" + std::to_string(i)] = "x";
  RunResult result = run({program(), "exec", "execve"}, options, 60);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("child LD_PRELOAD=" + preload_value({library()})));
  CHECK(result.files(".trace").size() == 2);
}

// --------------------------------------------------------------------- fork

TEST_CASE("fork while 8 threads allocate: no deadlock, each process's counts exact") {
  // ThreadSanitizer lists the parent's threads in a forked child, where they
  // never end, and calls them leaked at the child's exit.
  Options options;
  add_sanitizer_option(options, "TSAN_OPTIONS", "report_thread_leaks=0");
  RunResult result = run({program(), "fork_threads", "8", "200", "5"}, options, 120);
  INFO("stderr: " << result.err);
  REQUIRE_FALSE(result.timed_out);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "forks 5 failures 0\n");
  auto traces = result.files(".trace");
  REQUIRE(traces.size() == 6);
  CHECK(result.files(".report.json").size() == 6);
  int children = 0;
  for (const fs::path& trace : traces) {
    json report = report_of(trace);
    CHECK(report["trace"]["complete"] == true);
    check_consistent(report);
    if (count_of(report, "allocations") == 3) {
      ++children;
      CHECK(count_of(report, "frees") == 1);
    } else {
      CHECK(count_of(report, "allocations") == 1 + 8 * 200);
      CHECK(count_of(report, "frees") == 8 * 100);
    }
  }
  CHECK(children == 5);
}

// ------------------------------------------------------- the output disk

namespace {

// 12 MiB: the first 8 MiB window of the trace fits, the next one does not.
constexpr uint64_t kSmallDisk = 12 * kMiB;
// Enough pairs to need more than 8 MiB of trace without stacks.
const std::vector<std::string> kChurn = {"churn", "300000"};

Options churn_options() {
  Options options;
  options.env = {{"OOMTRACE_STACKS", "0"}};
  return options;
}

void check_stopped_trace(const RunResult& result) {
  json report = report_of(result.only(".trace"));
  CHECK(report["trace"]["complete"] == false);
  CHECK(count_of(report, "allocations") > 10000);
  CHECK(count_of(report, "unmatched_frees") == 0);
  CHECK(count_of(report, "allocations") - count_of(report, "frees") <= 1);
  CHECK(result.files(".report.json").empty());
}

std::vector<std::string> churn_command() {
  std::vector<std::string> command = {program()};
  command.insert(command.end(), kChurn.begin(), kChurn.end());
  return command;
}

}  // namespace

TEST_CASE("the output disk fills up mid-run (small tmpfs): one warning, the program runs on") {
  fs::path disk = fresh_dir("tmpfs");
  if (!mount_small_filesystem(disk, kSmallDisk, false)) {
    WARN("mounting a tmpfs is not permitted here: covered by the ENOSPC and RLIMIT_FSIZE cases");
    return;
  }
  Options options = churn_options();
  options.output_dir = disk;
  RunResult with = run(churn_command(), options);
  RunResult without = run(churn_command(), without_library(options));
  check_runs_on_with_one_warning(with, without, "No space left on device");
  check_stopped_trace(with);
  unmount(disk);
}

TEST_CASE("the output disk fills up mid-run (ENOSPC from posix_fallocate): one warning") {
  Options options = churn_options();
  options.preload = {library(), enospc_preload()};
  options.env["FAULT_DISK_BYTES"] = std::to_string(kSmallDisk);
  RunResult with = run(churn_command(), options);
  RunResult without = run(churn_command(), without_library(options));
  check_runs_on_with_one_warning(with, without, "No space left on device");
  check_stopped_trace(with);
}

TEST_CASE("the file size limit (ulimit -f) is reached mid-run: no SIGXFSZ, one warning") {
  Options options = churn_options();
  options.file_size_limit = kSmallDisk;
  RunResult with = run(churn_command(), options);
  RunResult without = run(churn_command(), without_library(options));
  check_runs_on_with_one_warning(with, without, "File too large");
  check_stopped_trace(with);
}

TEST_CASE("the output disk is full from the start: one warning, no file") {
  fs::path disk = fresh_dir("tmpfs-full");
  Options options;
  options.output_dir = disk;
  bool mounted = mount_small_filesystem(disk, 1 * kMiB, false);
  if (!mounted) {
    options.preload = {library(), enospc_preload()};
    options.env["FAULT_DISK_BYTES"] = "0";
  }
  RunResult with = run({program(), "allocate", "3"}, options);
  RunResult without = run({program(), "allocate", "3"}, without_library(options));
  check_runs_on_with_one_warning(with, without, "cannot create a trace");
  CHECK(fs::is_empty(disk));
  if (mounted) unmount(disk);
}

TEST_CASE("the output folder is read-only: one warning, the program runs on") {
  fs::path disk = fresh_dir("read-only");
  Options options = with_env(kEightGiB);
  if (mount_small_filesystem(disk, 1 * kMiB, true)) {
    options.output_dir = disk;
  } else if (geteuid() != 0) {
    chmod(disk.c_str(), 0555);
    options.output_dir = disk;
  } else {
    WARN("no read-only mount permitted and root ignores modes: using /proc/self");
    options.output_dir = "/proc/self";
  }
  RunResult with = run({program(), "allocate", "3"}, options);
  RunResult without = run({program(), "allocate", "3"}, without_library(options));
  check_runs_on_with_one_warning(with, without, "cannot create a trace");
  unmount(disk);
}

// ------------------------------------------------------ loaded twice

TEST_CASE("LD_PRELOAD names the library twice: one instance, counts exact") {
  Options options;
  options.preload = {library(), library()};
  RunResult result = run({program(), "allocate_copies", "2"}, options);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "allocated 3 copies 1\n");
  json report = result.report();
  CHECK(count_of(report, "allocations") == 3);
  CHECK(count_of(report, "frees") == 1);
  CHECK(result.files(".trace").size() == 1);
}

TEST_CASE("two copies at different paths: the first loaded records, the other passes through") {
  for (const auto& order : {std::vector<std::string>{library(), library_copy()},
                            std::vector<std::string>{library_copy(), library()}}) {
    Options options;
    options.preload = order;
    RunResult result = run({program(), "allocate_copies", "2"}, options);
    INFO("LD_PRELOAD " << preload_value(order) << "; stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    CHECK(result.out == "allocated 3 copies 2\n");
    CHECK(result.err.empty());
    REQUIRE(result.files(".trace").size() == 1);
    json report = result.report();
    CHECK(count_of(report, "allocations") == 3);
    CHECK(count_of(report, "frees") == 1);
  }
}

TEST_CASE("a copy dlopen()ed by the program while another is preloaded: one trace") {
  RunResult result = run({program(), "dlopen_copy", library_copy()});
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "allocated 3 copies 2\n");
  REQUIRE(result.files(".trace").size() == 1);
  CHECK(count_of(result.report(), "allocations") == 3);
}
