// Failures that only the framework knows about: PyTorch's allocator refusing
// a request because of a memory fraction (no CUDA call fails), seen through
// the C++ exception it throws and through the Python bridge.
#include <catch2/catch.hpp>

#include <csignal>
#include <sys/stat.h>

#include "scenario_harness.h"
#include "trace/reader.h"

using namespace scenario;
using nlohmann::json;

namespace {

oomtrace::trace::Trace read_only_trace(const RunResult& run_result) {
  oomtrace::trace::ReadResult read = oomtrace::trace::read_trace(run_result.only(".trace").string());
  INFO(read.error);
  REQUIRE(read.trace);
  return *read.trace;
}

}  // namespace

TEST_CASE("libtorch: a c10::OutOfMemoryError is recorded and still reaches the program") {
  RunResult run_result = run({SCENARIO_LIBTORCH_PATH, "fraction_limit"});
  CHECK(run_result.exit_code == 1);
  CHECK(run_result.out == "caught: CUDA out of memory. Trie\n");
  oomtrace::trace::Trace trace = read_only_trace(run_result);
  REQUIRE(trace.framework_errors.size() == 1);
  CHECK(trace.framework_errors[0].framework == "pytorch");
  CHECK_THAT(trace.framework_errors[0].message, Catch::Contains("4.00 GiB allowed;"));
  CHECK(trace.failures.empty());  // no CUDA call failed
  json report = run_result.report();
  REQUIRE(report["failures"].size() == 1);
  const json& failure = report["failures"][0];
  CHECK(failure["verdict"] == "limit");
  CHECK(failure["requested_bytes"] == 2 * kGiB);
  CHECK(failure["device_free_bytes"] == 12 * kGiB);
  CHECK_THAT(run_result.text_report(), Catch::Contains("Verdict: limit"));
}

TEST_CASE("libtorch: an uncaught c10::OutOfMemoryError aborts as before, with a report") {
  RunResult run_result = run({SCENARIO_LIBTORCH_PATH, "uncaught"});
  CHECK(run_result.signal == SIGABRT);
  CHECK_THAT(run_result.err, Catch::Contains("c10::OutOfMemoryError"));
  CHECK(run_result.files(".report.json").size() == 1);
}

#ifdef PYTHON3_PATH
TEST_CASE("Python bridge: snapshot saved at the OOM, uncaught error recorded") {
  Env env = {{"PYTHONPATH", std::string(FAKE_TORCH_DIR) + ":" + BRIDGE_DIR},
             {"PYTHONDONTWRITEBYTECODE", "1"}};
  RunResult run_result = run({PYTHON3_PATH, PYTHON_SCENARIO_DIR "/torch_fraction_oom.py"}, env);
  INFO(run_result.err);
  CHECK(run_result.exit_code == 1);
  CHECK_THAT(run_result.err, Catch::Contains("torch.OutOfMemoryError"));
  oomtrace::trace::Trace trace = read_only_trace(run_result);
  REQUIRE(trace.attachments.size() == 1);
  CHECK(trace.attachments[0].kind == "torch_snapshot");
  std::string snapshot = trace.attachments[0].path;
  CHECK_THAT(snapshot, Catch::EndsWith(".oom1.snapshot.pickle"));
  struct stat info{};
  REQUIRE(::stat(snapshot.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(trace.framework_errors.size() == 1);
  CHECK(trace.framework_errors[0].framework == "pytorch");
  CHECK_THAT(trace.framework_errors[0].message, Catch::StartsWith("OutOfMemoryError: CUDA out of memory."));
  CHECK(trace.events.size() == 2);  // the two segments, reached through ctypes and dlsym
  json report = run_result.report();
  REQUIRE(report["failures"].size() == 1);
  CHECK(report["failures"][0]["verdict"] == "limit");
}

// The bridge never stops the program, and never fails silently either: each
// step it could not take is a note in the trace and in the report.
TEST_CASE("Python bridge: what it could not do is noted in the report") {
  Env env = {{"PYTHONPATH", std::string(FAKE_TORCH_DIR) + ":" + BRIDGE_DIR},
             {"PYTHONDONTWRITEBYTECODE", "1"}, {"FAKE_TORCH_WITHOUT_OBSERVER", "1"}};
  RunResult without_observer = run({PYTHON3_PATH, PYTHON_SCENARIO_DIR "/torch_fraction_oom.py"}, env);
  CHECK(without_observer.exit_code == 1);
  oomtrace::trace::Trace trace = read_only_trace(without_observer);
  CHECK(trace.attachments.empty());
  REQUIRE(trace.notes.size() == 1);
  CHECK_THAT(trace.notes[0], Catch::StartsWith("PyTorch bridge: observer not attached: this torch has no "
                                               "torch._C._cuda_attach_out_of_memory_observer"));
  CHECK_THAT(without_observer.report()["notes"].dump(), Catch::Contains("observer not attached"));

  env = {{"PYTHONPATH", std::string(FAKE_TORCH_DIR) + ":" + BRIDGE_DIR},
         {"PYTHONDONTWRITEBYTECODE", "1"}, {"FAKE_TORCH_SNAPSHOT_FAILS", "1"}};
  RunResult snapshot_fails = run({PYTHON3_PATH, PYTHON_SCENARIO_DIR "/torch_fraction_oom.py"}, env);
  CHECK(snapshot_fails.exit_code == 1);
  trace = read_only_trace(snapshot_fails);
  CHECK(trace.attachments.empty());
  REQUIRE(trace.notes.size() == 1);
  CHECK_THAT(trace.notes[0], Catch::StartsWith("PyTorch bridge: snapshot not written at the out-of-memory on GPU 0 "
                                               "(RuntimeError: snapshot unavailable in this build)"));
}

TEST_CASE("Python bridge: OOMTRACE_PYTHON=0 turns it off") {
  Env env = {{"PYTHONPATH", std::string(FAKE_TORCH_DIR) + ":" + BRIDGE_DIR},
             {"PYTHONDONTWRITEBYTECODE", "1"}, {"OOMTRACE_PYTHON", "0"}};
  RunResult run_result = run({PYTHON3_PATH, PYTHON_SCENARIO_DIR "/torch_fraction_oom.py"}, env);
  CHECK(run_result.exit_code == 1);
  oomtrace::trace::Trace trace = read_only_trace(run_result);
  CHECK(trace.attachments.empty());
  CHECK(trace.framework_errors.empty());
}
#endif
