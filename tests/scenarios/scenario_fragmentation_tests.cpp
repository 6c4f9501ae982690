// Fragmentation found end to end: through the pool API of a program's own
// allocator, and through a cudaMallocAsync pool's counters.
#include <catch2/catch.hpp>

#include "allocator/process_memory.h"
#include "scenario_harness.h"
#include "trace/reader.h"

using namespace scenario;
using namespace oomtrace;
using nlohmann::json;

namespace {

const char* const kProgram = SCENARIO_FRAGMENTATION_PATH;

// A 2 GiB arena leaves 256 MiB of the device free: too little for 512 MiB.
const Env kArenaDevice = {{"FAKE_CUDA_TOTAL_MIB", "2304"}};
// Four 1 GiB pool chunks fill the device.
const Env kPoolDevice = {{"FAKE_CUDA_TOTAL_MIB", "4096"}, {"FAKE_CUDA_POOL_CHUNK_MIB", "1024"}};

const json& only_failure(const json& report) {
  REQUIRE(report["failures"].size() == 1);
  return report["failures"][0];
}

bool has_note_containing(const json& report, const std::string& text) {
  for (const json& note : report["notes"]) {
    if (note.get<std::string>().find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("pool API: holes of 128 MiB, 512 MiB needs a segment that does not fit: fragmentation") {
  RunResult result = run({kProgram, "pool_api"}, kArenaDevice);
  REQUIRE(result.exit_code == 1);
  CHECK(result.out == "pool API present\n512 MiB block: out of memory\n");
  json report = result.report();
  CHECK(report["totals"]["allocations"] == 1);  // the arena; blocks are not CUDA calls
  const json& failure = only_failure(report);
  CHECK(failure["api"] == "cudaMalloc");
  CHECK(failure["requested_bytes"] == 512 * kMiB);
  CHECK(failure["device_total_bytes"] == 2304 * kMiB);
  CHECK(failure["device_free_bytes"] == 256 * kMiB);
  CHECK(failure["process_reserved_bytes"] == 2 * kGiB);
  CHECK(failure["process_allocated_bytes"] == 1 * kGiB);  // eight live 128 MiB blocks
  CHECK(failure["largest_free_block_bytes"] == 128 * kMiB);
  CHECK(failure["fragmentation"] == 0.875);  // 1 - 128 MiB / 1 GiB
  CHECK(failure["other_bytes"] == 0);
  CHECK(failure["verdict"] == "fragmentation");
  CHECK_FALSE(has_note_containing(report, "process_allocated_bytes is null"));
  CHECK_THAT(result.text_report(), Catch::Contains("fragmentation"));
}

TEST_CASE("pool API: with every block live the arena is simply full: exhausted") {
  RunResult result = run({kProgram, "pool_api_full"}, kArenaDevice);
  REQUIRE(result.exit_code == 1);
  json report = result.report();
  const json& failure = only_failure(report);
  CHECK(failure["process_reserved_bytes"] == 2 * kGiB);
  CHECK(failure["process_allocated_bytes"] == 2 * kGiB);
  CHECK(failure["largest_free_block_bytes"] == 0);
  CHECK(failure["fragmentation"] == 0.0);
  CHECK(failure["verdict"] == "exhausted");
}

TEST_CASE("pool API: without the library the weak functions are null; the program runs the same") {
  RunResult result = run({kProgram, "pool_api"}, kArenaDevice, /*preload=*/false);
  CHECK(result.exit_code == 1);
  CHECK(result.out == "pool API absent\n512 MiB block: out of memory\n");
  CHECK(result.files(".trace").empty());
}

TEST_CASE("pool API: calls on memory no allocation holds are recorded and reported as unmatched") {
  RunResult result = run({kProgram, "pool_api_unmatched"});
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "pool API present\n");
  json report = result.report();
  CHECK(report["failures"].empty());
  CHECK(has_note_containing(report, "3 pool API calls"));
  CHECK(report["live_at_end"][0]["bytes"] == 64 * kMiB);
}

TEST_CASE("cudaMallocAsync pool: holes inside chunks in use, a larger request fails: fragmentation") {
  RunResult result = run({kProgram, "async_pool"}, kPoolDevice);
  REQUIRE(result.exit_code == 1);
  CHECK(result.out == "512 MiB cudaMallocAsync: 2; pool reserved 4294967296 used 2147483648\n");
  json report = result.report();
  const json& failure = only_failure(report);
  CHECK(failure["api"] == "cudaMallocAsync");
  CHECK(failure["requested_bytes"] == 512 * kMiB);
  CHECK(failure["device_total_bytes"] == 4 * kGiB);
  CHECK(failure["device_free_bytes"] == 0);
  // Held: the pool's reserved memory, its cache included; in use: its used.
  CHECK(failure["process_reserved_bytes"] == 4 * kGiB);
  CHECK(failure["process_allocated_bytes"] == 2 * kGiB);
  // A pool does not say how its cache is split.
  CHECK(failure["largest_free_block_bytes"].is_null());
  CHECK(failure["fragmentation"].is_null());
  CHECK(failure["other_bytes"] == 0);
  CHECK(failure["verdict"] == "fragmentation");
}

TEST_CASE("PyTorch's policy, growing sequence: the first suggestion is the setting the replay shows to work") {
  Env env = {{"FAKE_CUDA_TOTAL_MIB", "3072"}, {"PYTORCH_CUDA_ALLOC_CONF", "backend:native"}};
  RunResult result = run({kProgram, "growing_sequence"}, env);
  REQUIRE(result.exit_code == 1);
  CHECK_THAT(result.out, Catch::EndsWith("out of memory\n"));
  json report = result.report();
  // The failure that stopped the program: the last one, not recovered.
  const json& failure = report["failures"].back();
  CHECK(failure["recovered"] == false);
  CHECK(failure["verdict"] == "fragmentation");
  const json& replay = failure["replay"];
  REQUIRE(replay.is_object());
  CHECK(replay["input_kind"] == "oomtrace-trace");
  CHECK(replay["capacity_bytes"] == 3072 * kMiB);
  CHECK(replay["recorded_settings"] == "defaults");
  CHECK(replay["recorded_oom_at_event"].is_number());  // the model fails where the program did
  CHECK(replay["fidelity"] == 1.0);                    // every block at the address the program used
  REQUIRE(replay["recommended_settings"].is_string());
  std::string recommended = replay["recommended_settings"];
  // Not its combination with roundup_power2_divisions:4, which peaks within
  // 2 % of it (report/whatif.h, kPeakTolerance).
  CHECK(recommended == "expandable_segments:True");
  CHECK(replay["predicted_peak_reserved_bytes"].get<uint64_t>() <= 3072 * kMiB);
  CHECK(failure["suggestions"][0]["setting"] == "PYTORCH_CUDA_ALLOC_CONF=" + recommended);
  CHECK_THAT(result.text_report(), Catch::Contains("oomtrace whatif"));
}

TEST_CASE("a program's own allocator that is not PyTorch's: no replay under PyTorch's policy") {
  RunResult result = run({kProgram, "pool_api"}, kArenaDevice);
  REQUIRE(result.exit_code == 1);
  CHECK(only_failure(result.report())["replay"].is_null());
}

namespace {

// What the process held on `device` before trace event `index`, replayed by
// the report's own model.
DeviceFigures replayed_before(const oomtrace::trace::Trace& trace, size_t index, int device) {
  ProcessMemory memory;
  for (size_t i = 0; i < index && i < trace.events.size(); ++i) memory.apply(trace.events[i]);
  return memory.device(device);
}

trace::Trace read_the_trace(const RunResult& result) {
  trace::ReadResult read = trace::read_trace(result.only(".trace").string());
  REQUIRE(read.trace);
  return std::move(*read.trace);
}

void check_failure_figures_match_the_replay(const trace::Trace& trace, size_t expected_failures) {
  REQUIRE(trace.failures.size() == expected_failures);
  for (const oomtrace::trace::RecordedFailure& failure : trace.failures) {
    int device = failure.context.event.device;
    DeviceFigures replayed = replayed_before(trace, failure.event_index, device);
    CHECK(replayed.reserved_bytes > 0);
    CHECK(failure.context.process_reserved_bytes == replayed.reserved_bytes);
    CHECK(failure.context.process_segments == replayed.segment_count);
  }
}

}  // namespace

// The library keeps no model on the hot path: at a failure it reads its own
// trace back from where it stopped (interpose/failure_model.h). What the
// Failure record carries must be what the report replays.
TEST_CASE("a failure record carries the figures the report's replay finds at that instant") {
  SECTION("pool blocks inside an arena: one catch-up over every block") {
    RunResult result = run({kProgram, "pool_api"}, kArenaDevice);
    REQUIRE(result.exit_code == 1);
    trace::Trace trace = read_the_trace(result);
    check_failure_figures_match_the_replay(trace, 1);
    // Pool blocks are written without a device; every reader takes the
    // segment's, and the report still finds the blocks on GPU 0.
    size_t pool_events = 0;
    for (const Event& event : trace.events) {
      if (api_memory_kind(event.api) != MemoryKind::SubAllocation) continue;
      ++pool_events;
      CHECK(event.device == kHostDevice);
    }
    CHECK(pool_events == 16 + 8);
    CHECK(only_failure(result.report())["process_allocated_bytes"] == 1 * kGiB);
  }
  SECTION("two failures: the second catch-up starts where the first stopped") {
    RunResult result = run({SCENARIO_RUNTIME_PATH, "exhausted"}, {{"FAKE_CUDA_TOTAL_MIB", "8192"}});
    REQUIRE(result.exit_code == 1);
    check_failure_figures_match_the_replay(read_the_trace(result), 2);
  }
}
