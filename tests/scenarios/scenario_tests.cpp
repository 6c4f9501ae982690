// End to end: real programs on the simulated device, liboomtrace.so
// preloaded, checked through the files they leave and the report's JSON.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <set>

#include "scenario_harness.h"

using namespace scenario;
using nlohmann::json;

namespace {

const Env kEightGiB = {{"FAKE_CUDA_TOTAL_MIB", "8192"}};

const json& last_failure(const json& report) {
  REQUIRE_FALSE(report["failures"].empty());
  return report["failures"].back();
}

std::set<std::string> apis_in_live(const json& report) {
  std::set<std::string> apis;
  for (const json& device : report["live_at_end"]) {
    for (const json& allocation : device["top"]) apis.insert(allocation["api"].get<std::string>());
  }
  return apis;
}

uint64_t live_bytes(const json& report, int device) {
  for (const json& entry : report["live_at_end"]) {
    if (entry["device"] == device) return entry["bytes"];
  }
  return 0;
}

}  // namespace

TEST_CASE("the process's own memory fills the device: verdict exhausted") {
  RunResult run_result = run({runtime_scenario(), "exhausted"}, kEightGiB);
  REQUIRE(run_result.exit_code == 1);
  json report = run_result.report();
  CHECK(report["schema"] == "oomtrace-report/1");
  CHECK(report["totals"]["allocations"] == 8);
  CHECK(report["totals"]["failed_allocations"] == 2);
  const json& failure = last_failure(report);
  CHECK(failure["api"] == "cudaMalloc");
  CHECK(failure["requested_bytes"] == 2 * kGiB);
  CHECK(failure["device_total_bytes"] == 8 * kGiB);
  CHECK(failure["device_free_bytes"] == 0);
  CHECK(failure["process_reserved_bytes"] == 8 * kGiB);
  CHECK(failure["other_bytes"] == 0);
  CHECK(failure["verdict"] == "exhausted");
  CHECK(failure["recovered"] == false);
  CHECK(report["devices"][0]["peak_reserved_bytes"] == 8 * kGiB);
  CHECK(report["devices"][0]["total_bytes"] == 8 * kGiB);

  std::string text = run_result.text_report();
  CHECK_THAT(text, Catch::Contains("exhausted"));
  CHECK_THAT(text, Catch::Contains("2.00 GiB"));
  std::string trace = run_result.only(".trace").string();
  CHECK_THAT(text, Catch::EndsWith("oomtrace report --format json " + trace + "\n"));
}

TEST_CASE("a single request larger than the device: verdict exceeds_capacity") {
  RunResult run_result = run({runtime_scenario(), "exceeds_capacity"}, kEightGiB);
  json report = run_result.report();
  const json& failure = last_failure(report);
  CHECK(failure["requested_bytes"] == 64 * kGiB);
  CHECK(failure["verdict"] == "exceeds_capacity");
}

TEST_CASE("another process holds most of the device: verdict other_processes, named by NVML") {
  Env env = kEightGiB;
  env["FAKE_CUDA_OTHER_MIB"] = "6144";
  env["FAKE_CUDA_OTHER_PID"] = "4242";
  RunResult run_result = run({runtime_scenario(), "exhausted"}, env);
  json report = run_result.report();
  const json& failure = report["failures"][0];
  CHECK(failure["process_reserved_bytes"] == 2 * kGiB);
  CHECK(failure["other_bytes"] == 6 * kGiB);
  CHECK(failure["verdict"] == "other_processes");
  CHECK(failure["nvml_known"] == true);
  REQUIRE(failure["other_processes"].size() == 1);
  CHECK(failure["other_processes"][0]["pid"] == 4242);
  CHECK(failure["other_processes"][0]["used_bytes"] == 6 * kGiB);
  CHECK_THAT(run_result.text_report(), Catch::Contains("4242"));
}

TEST_CASE("a failure followed by a successful retry is marked recovered") {
  RunResult run_result = run({runtime_scenario(), "recovered"}, kEightGiB);
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  REQUIRE(report["failures"].size() == 1);
  CHECK(report["failures"][0]["recovered"] == true);
}

TEST_CASE("SIGKILL after 100 allocations leaves a trace with those 100 live allocations") {
  RunResult run_result = run({runtime_scenario(), "kill_after_100"});
  REQUIRE(run_result.signal == SIGKILL);
  CHECK(run_result.files(".report.json").empty());
  json report = report_of(run_result.only(".trace"));
  CHECK(report["trace"]["complete"] == false);
  CHECK(report["totals"]["allocations"] == 100);
  CHECK(report["live_at_end"][0]["count"] == 100);
  CHECK(report["live_at_end"][0]["bytes"] == 400 * kMiB);
}

TEST_CASE("host-pinned and managed memory are tracked apart from device memory") {
  RunResult run_result = run({runtime_scenario(), "pinned_and_managed"});
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  // 100 MiB, a 1000x100 pitched block (pitch 1024) and a 1000x10x10 cube.
  uint64_t device_bytes = 100 * kMiB + 1024 * 100 + 1024 * 10 * 10;
  CHECK(report["devices"][0]["peak_reserved_bytes"] == device_bytes);
  CHECK(report["host_pinned"]["peak_bytes"] == 96 * kMiB);
  CHECK(report["host_pinned"]["live_bytes"] == 64 * kMiB);
  CHECK(report["totals"]["allocations"] == 6);
  CHECK(report["totals"]["frees"] == 1);
}

TEST_CASE("stream-ordered allocations and their failure are recorded") {
  RunResult run_result = run({runtime_scenario(), "stream_ordered"}, kEightGiB);
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  CHECK(report["totals"]["allocations"] == 3);
  CHECK(report["totals"]["frees"] == 2);
  CHECK(live_bytes(report, 0) == 30 * kMiB);
  CHECK(apis_in_live(report) == std::set<std::string>{"cudaMallocFromPoolAsync"});
  CHECK(last_failure(report)["api"] == "cudaMallocAsync");
  CHECK(last_failure(report)["verdict"] == "exceeds_capacity");
}

TEST_CASE("allocations land on the device each thread selected") {
  RunResult run_result = run({runtime_scenario(), "several_devices"}, {{"FAKE_CUDA_DEVICES", "2"}});
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  REQUIRE(report["devices"].size() == 2);
  CHECK(report["devices"][0]["peak_reserved_bytes"] == 100 * kMiB);
  CHECK(report["devices"][1]["peak_reserved_bytes"] == 200 * kMiB);
}

TEST_CASE("64 threads allocating at once: no event lost or counted twice") {
  RunResult run_result = run({runtime_scenario(), "threads", "64", "100"});
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  CHECK(report["totals"]["allocations"] == 6400);
  CHECK(report["totals"]["frees"] == 3200);
  CHECK(report["totals"]["unmatched_frees"] == 0);
  CHECK(report["live_at_end"][0]["count"] == 3200);
}

TEST_CASE("a forked child writes its own files and counts only its own calls") {
  RunResult run_result = run({runtime_scenario(), "fork"});
  REQUIRE(run_result.exit_code == 0);
  auto traces = run_result.files(".trace");
  REQUIRE(traces.size() == 2);
  REQUIRE(run_result.files(".report.json").size() == 2);
  std::multiset<uint64_t> allocation_counts;
  for (const auto& trace : traces) {
    json report = report_of(trace);
    allocation_counts.insert(report["totals"]["allocations"].get<uint64_t>());
    CHECK_THAT(trace.filename().string(),
               Catch::Contains("." + std::to_string(report["process"]["pid"].get<int>()) + ".trace"));
  }
  CHECK(allocation_counts == std::multiset<uint64_t>{2, 4});
}

TEST_CASE("SIGTERM still produces the report") {
  RunResult run_result = run({runtime_scenario(), "sigterm"}, kEightGiB);
  REQUIRE(run_result.signal == SIGTERM);
  json report = run_result.report();
  CHECK(report["trace"]["exit_reason"] == "signal SIGTERM");
  CHECK(last_failure(report)["verdict"] == "exceeds_capacity");
}

TEST_CASE("an uncaught exception (abort) still produces the report") {
  RunResult run_result = run({runtime_scenario(), "uncaught_exception"}, kEightGiB);
  REQUIRE(run_result.signal == SIGABRT);
  json report = run_result.report();
  CHECK(report["trace"]["exit_reason"] == "signal SIGABRT");
  CHECK(report["totals"]["failed_allocations"] == 1);
}

TEST_CASE("exit() from the program's failure handler writes the report") {
  RunResult run_result = run({runtime_scenario(), "exit_in_handler"}, kEightGiB);
  REQUIRE(run_result.exit_code == 3);
  json report = run_result.report();
  CHECK(report["trace"]["complete"] == true);
  CHECK(last_failure(report)["verdict"] == "exhausted");
}

TEST_CASE("every call returns what it returns without the library") {
  Env env = kEightGiB;
  RunResult with = run({runtime_scenario(), "pass_through"}, env, true);
  RunResult without = run({runtime_scenario(), "pass_through"}, env, false);
  REQUIRE(without.exit_code == 0);
  CHECK(with.exit_code == without.exit_code);
  CHECK(with.out.size() > 10000);
  CHECK(with.out == without.out);
  CHECK(without.files(".trace").empty());
  CHECK(with.files(".trace").size() == 1);
}

TEST_CASE("a process that never allocates writes no files") {
  RunResult program = run({runtime_scenario(), "nothing"});
  CHECK(program.exit_code == 0);
  CHECK(program.err.empty());
  CHECK(std::filesystem::is_empty(program.dir));
  RunResult shell = run({"/bin/sh", "-c", "echo hello"});
  CHECK(shell.out == "hello\n");
  CHECK(shell.err.empty());
  CHECK(std::filesystem::is_empty(shell.dir));
}

TEST_CASE("a runtime allocation is counted once, under the runtime API") {
  RunResult run_result = run({runtime_scenario(), "exhausted"}, kEightGiB);
  json report = run_result.report();
  CHECK(report["totals"]["allocations"] == 8);
  CHECK(apis_in_live(report) == std::set<std::string>{"cudaMalloc"});
  for (const json& failure : report["failures"]) CHECK(failure["api"] == "cudaMalloc");
}

TEST_CASE("driver API: every kind of allocation, VMM and failures") {
  RunResult run_result = run({driver_scenario(), "every_kind"}, kEightGiB);
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  // plain 64 MiB, pitched (1024 x 100), two async of 10 MiB (freed), 3 x 20 MiB
  // physical pages (one released); managed and host-pinned kept apart.
  CHECK(report["totals"]["failed_allocations"] == 2);
  CHECK(report["failures"][0]["api"] == "cuMemCreate");
  CHECK(report["failures"][1]["api"] == "cuMemAlloc_v2");
  CHECK(report["host_pinned"]["peak_bytes"] == 16 * kMiB);
  CHECK(report["host_pinned"]["live_bytes"] == 8 * kMiB);
  CHECK(live_bytes(report, 0) == 40 * kMiB + 1024 * 100);
  // The async blocks are freed before the pages are created.
  CHECK(report["devices"][0]["peak_reserved_bytes"] == 64 * kMiB + 1024 * 100 + 60 * kMiB);
}

TEST_CASE("statically linked cudart: reached through cuGetProcAddress_v2 lookups") {
  RunResult run_result = run({lookup_scenario(), "static_cudart"}, kEightGiB);
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  CHECK(report["totals"]["allocations"] == 3);
  CHECK(report["totals"]["frees"] == 1);
  CHECK(live_bytes(report, 0) == 250 * kMiB);
  CHECK(apis_in_live(report) == std::set<std::string>{"cuMemAlloc_v2", "cuMemAllocAsync_ptsz"});
  CHECK(last_failure(report)["api"] == "cuMemAlloc_v2");
}

TEST_CASE("the legacy 4-argument cuGetProcAddress, asked for itself, stays hooked") {
  RunResult run_result = run({lookup_scenario(), "legacy_resolver"});
  REQUIRE(run_result.exit_code == 0);
  CHECK(live_bytes(run_result.report(), 0) == 300 * kMiB);
}

TEST_CASE("dlsym on the driver's handle returns the hooked function") {
  RunResult run_result = run({lookup_scenario(), "driver_dlsym"});
  REQUIRE(run_result.exit_code == 0);
  CHECK(run_result.out == "untouched found\n");
  CHECK(live_bytes(run_result.report(), 0) == 400 * kMiB);
}

TEST_CASE("cudaGetDriverEntryPoint and ByVersion hand out hooked driver functions") {
  RunResult run_result = run({runtime_scenario(), "entry_points"}, kEightGiB);
  REQUIRE(run_result.exit_code == 0);
  json report = run_result.report();
  CHECK(live_bytes(report, 0) == 1 * kMiB + 5 * 20 * kMiB + 50 * kMiB);
  CHECK(last_failure(report)["api"] == "cuMemCreate");
}

TEST_CASE("an unwritable output folder: the program runs on, one warning") {
  Env env = kEightGiB;
  env["OOMTRACE_DIR"] = "/proc/self";
  RunResult with = run({runtime_scenario(), "exhausted"}, env);
  RunResult without = run({runtime_scenario(), "exhausted"}, env, false);
  CHECK(with.exit_code == without.exit_code);
  CHECK(with.out == without.out);
  CHECK(std::count(with.err.begin(), with.err.end(), '\n') == 1);
  CHECK_THAT(with.err, Catch::StartsWith("oomtrace: "));
  CHECK_THAT(with.err, Catch::Contains("OOMTRACE_DIR"));
}

TEST_CASE("the failure's stack reaches into the program") {
  RunResult run_result = run({runtime_scenario(), "exhausted"}, kEightGiB);
  json report = run_result.report();
  const json& stack = last_failure(report)["stack"];
  REQUIRE_FALSE(stack.empty());
  bool in_program = false;
  for (const json& frame : stack) {
    if (frame.get<std::string>().find("scenario_runtime") != std::string::npos) in_program = true;
    CHECK(frame.get<std::string>().find("liboomtrace") == std::string::npos);
  }
  CHECK(in_program);
}

TEST_CASE("OOMTRACE_STACKS=fp: allocation stacks from frame pointers reach into the program") {
  Env env = kEightGiB;
  env["OOMTRACE_STACKS"] = "fp";
  RunResult run_result = run({runtime_scenario(), "exhausted"}, env);
  INFO(run_result.err);
  CHECK(run_result.err.find("OOMTRACE_STACKS") == std::string::npos);  // accepted, no warning
  json report = run_result.report();
  REQUIRE_FALSE(report["live_at_end"].empty());
  const json& top = report["live_at_end"][0]["top"];
  REQUIRE_FALSE(top.empty());
  for (const json& allocation : top) {
    const json& stack = allocation["stack"];
    REQUIRE_FALSE(stack.empty());
    bool in_program = false;
    bool reaches_main = false;
    for (const json& frame : stack) {
      std::string text = frame.get<std::string>();
      in_program = in_program || text.find("scenario_runtime") != std::string::npos;
      reaches_main = reaches_main || text.rfind("main+", 0) == 0;
      CHECK(text.find("liboomtrace") == std::string::npos);
    }
    CHECK(in_program);
    CHECK(reaches_main);
  }
}

TEST_CASE("oomtrace run: preloads, runs, prints the report, keeps the exit code") {
  RunResult run_result =
      run({cli(), "run", "--", runtime_scenario(), "exhausted"}, kEightGiB, false);
  CHECK(run_result.exit_code == 1);
  CHECK_THAT(run_result.err, Catch::Contains("exhausted"));
  CHECK_THAT(run_result.err, Catch::Contains("oomtrace report"));
  CHECK(run_result.files(".report.txt").size() == 1);
}
