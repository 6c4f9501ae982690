// From synthetic traces to verdicts, explanations and suggestions.
#include <catch2/catch.hpp>

#include "report/analysis/analysis.h"
#include "report/verdicts/suggestions.h"
#include "report/verdicts/verdict.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::report;
using namespace oomtrace::test;
using Catch::Contains;

namespace {

constexpr uint32_t kSelfPid = 777;

// A process on a 16 GiB GPU 0 holding `held` in 2 GiB allocations (plus
// the remainder in one smaller one).
TraceBuilder process_holding(uint64_t held) {
  TraceBuilder builder;
  builder.process(kSelfPid).device(0, 16 * GiB).device(1, 16 * GiB);
  uint64_t address = 0x10000000;
  for (uint64_t placed = 0; placed < held;) {
    uint64_t size = std::min(2 * GiB, held - placed);
    builder.alloc(0, address, size);
    address += size;
    placed += size;
  }
  return builder;
}

FailureSpec failure_on_gpu0(uint64_t request, uint64_t free, uint64_t reserved) {
  FailureSpec spec;
  spec.request = request;
  spec.total = 16 * GiB;
  spec.free = free;
  spec.reserved = reserved;
  return spec;
}

Report analyze_built(const TraceBuilder& builder) {
  TempDir dir;
  return analyze(builder.build(dir.file("oomtrace.testhost.777.trace")));
}

bool has_suggestion(const FailureReport& failure, const std::string& setting_part) {
  for (const Suggestion& s : failure.suggestions) {
    if (s.setting.find(setting_part) != std::string::npos) return true;
  }
  return false;
}

const Suggestion* find_suggestion(const FailureReport& failure, const std::string& setting_part) {
  for (const Suggestion& s : failure.suggestions) {
    if (s.setting.find(setting_part) != std::string::npos) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a request larger than the whole device exceeds its capacity", "[analysis]") {
  TraceBuilder builder = process_holding(2 * GiB);
  builder.fail(failure_on_gpu0(20 * GiB, 14 * GiB, 2 * GiB)).finish();
  Report report = analyze_built(builder);
  REQUIRE(report.failures.size() == 1);
  const FailureReport& f = report.failures[0];
  REQUIRE(f.verdict == Verdict::ExceedsCapacity);
  CHECK_THAT(f.explanation, Contains("20.00 GiB") && Contains("16.00 GiB"));
  const Suggestion* split = find_suggestion(f, "split the request");
  REQUIRE(split);
  CHECK_THAT(split->reason, Contains("a single allocation of 20.00 GiB cannot fit on a device of 16.00 GiB"));
}

TEST_CASE("memory held by other processes, named by NVML", "[analysis]") {
  TraceBuilder builder = process_holding(2 * GiB);
  FailureSpec spec = failure_on_gpu0(4 * GiB, 1 * GiB, 2 * GiB);
  spec.nvml_known = true;
  spec.processes = {{kSelfPid, 2 * GiB}, {4242, 12 * GiB}};
  builder.fail(spec).finish();
  const FailureReport f = analyze_built(builder).failures.at(0);

  REQUIRE(f.verdict == Verdict::OtherProcesses);
  CHECK(f.other_bytes == 13 * GiB);
  REQUIRE(f.other_processes.size() == 1);  // this process is not "other"
  CHECK(f.other_processes[0].pid == 4242);
  CHECK_THAT(f.explanation, Contains("pid 4242 (12.00 GiB)"));
  const Suggestion* stop = find_suggestion(f, "stop process 4242");
  REQUIRE(stop);
  CHECK_THAT(stop->reason, Contains("12.00 GiB"));
  CHECK(has_suggestion(f, "CUDA_VISIBLE_DEVICES="));
  CHECK_FALSE(has_suggestion(f, "nvidia-smi"));
}

TEST_CASE("memory held outside the process without NVML", "[analysis]") {
  TraceBuilder builder = process_holding(2 * GiB);
  builder.fail(failure_on_gpu0(4 * GiB, 1 * GiB, 2 * GiB)).finish();
  const FailureReport f = analyze_built(builder).failures.at(0);
  REQUIRE(f.verdict == Verdict::OtherProcesses);
  CHECK_FALSE(f.nvml_known);
  CHECK_THAT(f.explanation, Contains("CUDA context") && Contains("other processes") && Contains("NVML"));
  CHECK(has_suggestion(f, "nvidia-smi"));
}

TEST_CASE("other processes are not blamed when the request would not fit anyway", "[analysis]") {
  // 13 GiB outside, 2 GiB own, but a 15 GiB request exceeds total - own.
  TraceBuilder builder = process_holding(2 * GiB);
  builder.fail(failure_on_gpu0(15 * GiB, 1 * GiB, 2 * GiB)).finish();
  CHECK(analyze_built(builder).failures.at(0).verdict == Verdict::Exhausted);
}

TEST_CASE("the process's own memory exhausts the device", "[analysis]") {
  // 10 GiB held, 5 GiB free, 1 GiB outside; 6 GiB asked: 1 GiB short, which
  // is 10% of what the process holds.
  TraceBuilder builder = process_holding(10 * GiB);
  builder.fail(failure_on_gpu0(6 * GiB, 5 * GiB, 10 * GiB)).finish();
  const FailureReport f = analyze_built(builder).failures.at(0);
  REQUIRE(f.verdict == Verdict::Exhausted);
  CHECK(f.other_bytes == 1 * GiB);
  CHECK(f.process_segments == 5);  // from the model: the context did not count them
  CHECK_THAT(f.explanation, Contains("10.00 GiB") && Contains("5.00 GiB") && Contains("6.00 GiB"));
  const Suggestion* batch = find_suggestion(f, "reduce the batch");
  REQUIRE(batch);
  CHECK_THAT(batch->reason, Contains("needs about 1.00 GiB more") && Contains("at least 10%"));
  // Nothing in this trace hints at a caching allocator.
  CHECK_FALSE(has_suggestion(f, "expandable_segments"));
}

TEST_CASE("the cut-the-batch percentage rounds up", "[analysis]") {
  FailureReport f;
  f.device_total_bytes = 16 * GiB;
  f.device_free_bytes = 1 * GiB;
  f.process_reserved_bytes = 14 * GiB;
  f.requested_bytes = 2 * GiB;  // 1 GiB short of 14 GiB: 7.14%
  CHECK(percent_to_cut(f) == 8u);
  f.requested_bytes = 1 * GiB + 14 * GiB / 10;  // exactly 10%
  CHECK(percent_to_cut(f) == 10u);
  f.requested_bytes = 1 * GiB + 14 * GiB / 10 + 1;  // a byte more: 11%
  CHECK(percent_to_cut(f) == 11u);
  f.requested_bytes = 512 * MiB;  // fits in what is free
  CHECK_FALSE(percent_to_cut(f));
  f.device_free_bytes.reset();
  CHECK_FALSE(percent_to_cut(f));
}

TEST_CASE("fragmentation needs the allocator's own figures", "[analysis]") {
  FailureReport f;
  f.device_total_bytes = 16 * GiB;
  f.device_free_bytes = 256 * MiB;
  f.process_reserved_bytes = 15 * GiB;
  f.requested_bytes = 1 * GiB;
  f.other_bytes = 768 * MiB;
  CHECK(decide_verdict(f) == Verdict::Exhausted);  // unknown: never guessed

  f.process_allocated_bytes = 12 * GiB;
  f.largest_free_block_bytes = 512 * MiB;
  CHECK(decide_verdict(f) == Verdict::Fragmentation);
  f.verdict = Verdict::Fragmentation;
  CHECK_THAT(explain(f), Contains("3.00 GiB") && Contains("512.00 MiB") && Contains("fragmented"));
  std::vector<Suggestion> suggestions = suggest(f, AllocatorSettings{});
  REQUIRE(suggestions.size() == 2);
  CHECK(suggestions[0].setting == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True");
  CHECK(suggestions[1].setting == "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:1024");

  // Already on: neither expandable segments nor max_split_size (which does
  // not act on them) is suggested.
  AllocatorSettings already;
  already.expandable_segments = true;
  CHECK(suggest(f, already).empty());

  f.largest_free_block_bytes = 2 * GiB;  // a block was big enough: not fragmentation
  CHECK(decide_verdict(f) == Verdict::Exhausted);
}

TEST_CASE("without the device's figures there is no verdict", "[analysis]") {
  SECTION("no device record and no cuMemGetInfo") {
    TraceBuilder builder;
    builder.process(kSelfPid).alloc(0, 0x1000, 1 * GiB);
    FailureSpec spec;
    spec.request = 2 * GiB;
    spec.device_info_known = false;
    builder.fail(spec).finish();
    const FailureReport f = analyze_built(builder).failures.at(0);
    CHECK_FALSE(f.verdict);
    CHECK_FALSE(f.device_total_bytes);
    CHECK_FALSE(f.device_free_bytes);
    CHECK_FALSE(f.other_bytes);
    CHECK_THAT(f.explanation, Contains("total and free memory are unknown") && Contains("cuMemGetInfo"));
    CHECK(f.suggestions.empty());
  }
  SECTION("the device record gives the total, not what was free") {
    TraceBuilder builder = process_holding(2 * GiB);
    FailureSpec spec;
    spec.request = 2 * GiB;
    spec.device_info_known = false;
    builder.fail(spec).finish();
    const FailureReport f = analyze_built(builder).failures.at(0);
    CHECK_FALSE(f.verdict);
    CHECK(f.device_total_bytes == 16 * GiB);
    CHECK_THAT(f.explanation, Contains("free memory is unknown"));
  }
  SECTION("a request beyond the recorded total is still decided") {
    TraceBuilder builder = process_holding(2 * GiB);
    FailureSpec spec;
    spec.request = 32 * GiB;
    spec.device_info_known = false;
    builder.fail(spec).finish();
    CHECK(analyze_built(builder).failures.at(0).verdict == Verdict::ExceedsCapacity);
  }
}

TEST_CASE("a failure followed by a successful allocation on its device was recovered", "[analysis]") {
  TraceBuilder builder = process_holding(10 * GiB);
  builder.fail(failure_on_gpu0(6 * GiB, 5 * GiB, 10 * GiB));

  SECTION("the allocator emptied its cache and retried") {
    builder.free(0, 0x10000000).free(0, 0x10000000 + 2 * GiB).alloc(0, 0x90000000, 6 * GiB).finish();
    const FailureReport f = analyze_built(builder).failures.at(0);
    CHECK(f.recovered);
    CHECK(f.released_after_bytes == 4 * GiB);
    CHECK_THAT(f.explanation, Contains("recovered"));
    const Suggestion* expandable = find_suggestion(f, "expandable_segments:True");
    REQUIRE(expandable);
    CHECK_THAT(expandable->reason, Contains("released 4.00 GiB"));
  }
  SECTION("an allocation on another device does not count") {
    builder.alloc(1, 0x90000000, 1 * GiB).finish();
    const FailureReport f = analyze_built(builder).failures.at(0);
    CHECK_FALSE(f.recovered);
    CHECK_THAT(f.explanation, Contains("likely what stopped the process"));
  }
  SECTION("nothing after the failure") {
    builder.finish("exit");
    CHECK_FALSE(analyze_built(builder).failures.at(0).recovered);
  }
}

TEST_CASE("expandable segments are not suggested when already configured", "[analysis]") {
  auto recovered_failure = [](const std::string& key, const std::string& conf) {
    TraceBuilder builder = process_holding(10 * GiB);
    if (!conf.empty()) builder.setting(key, conf);
    builder.fail(failure_on_gpu0(6 * GiB, 5 * GiB, 10 * GiB))
        .free(0, 0x10000000)
        .alloc(0, 0x90000000, 6 * GiB)
        .finish();
    return analyze_built(builder).failures.at(0);
  };
  CHECK(has_suggestion(recovered_failure("", ""), "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"));
  CHECK_FALSE(has_suggestion(recovered_failure("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"),
                             "expandable_segments"));
  CHECK_FALSE(has_suggestion(recovered_failure("PYTORCH_ALLOC_CONF", "max_split_size_mb:64, expandable_segments:true"),
                             "expandable_segments"));
  CHECK_FALSE(has_suggestion(recovered_failure("PYTORCH_CUDA_ALLOC_CONF", "backend:cudaMallocAsync"),
                             "expandable_segments"));
  // Other options already set are kept in the suggested value.
  CHECK(has_suggestion(recovered_failure("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128"),
                       "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:128,expandable_segments:True"));
}

TEST_CASE("a trace without trailer is reported as killed, with its live allocations", "[analysis]") {
  TraceBuilder builder;
  builder.process(kSelfPid)
      .device(0, 16 * GiB)
      .frame(1, 0x7f00, "libmodel.so", "Model::forward", 0x40)
      .frame(2, 0x7f80, "libmodel.so", "", 0x80)
      .stack(3, {1, 2})
      .alloc(0, 0x1000, 1 * GiB, Api::cudaMalloc, 3)
      .alloc(0, 0x2000, 3 * GiB, Api::cuMemAlloc_v2)
      .alloc(0, 0x3000, 2 * GiB)
      .free(0, 0x3000);
  Report report = analyze_built(builder);  // no finish(): killed
  CHECK_FALSE(report.trace.complete);
  CHECK_FALSE(report.trace.exit_reason);
  CHECK_THAT(report.trace.description, Contains("SIGKILL") && Contains("last recorded event"));
  REQUIRE(report.live_at_end.size() == 1);
  const LiveOnDevice& live = report.live_at_end[0];
  CHECK(live.bytes == 4 * GiB);
  CHECK(live.count == 2);
  REQUIRE(live.top.size() == 2);
  CHECK(live.top[0].size == 3 * GiB);
  CHECK(live.top[0].api == Api::cuMemAlloc_v2);
  CHECK(live.top[1].stack == std::vector<std::string>{"Model::forward+0x40 (libmodel.so)",
                                                      "0x7f80 (libmodel.so+0x80)"});
}

TEST_CASE("the report's summary sections", "[analysis]") {
  TraceBuilder builder = process_holding(4 * GiB);
  builder.alloc(-1, 0x5000, 256 * MiB, Api::cudaHostAlloc)
      .free(-1, 0x5000, Api::cudaFreeHost)
      .alloc(3, 0x6000, 1 * MiB)  // a device with no device record
      .free(0, 0xbad)
      .setting("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
      .finish("signal SIGTERM");
  Report report = analyze_built(builder);
  CHECK(report.process.pid == kSelfPid);
  CHECK(report.process.host == "testhost");
  REQUIRE(report.devices.size() == 3);
  CHECK(report.devices[0].name == std::string("Fake GPU"));
  CHECK(report.devices[0].peak_reserved_bytes == 4 * GiB);
  CHECK(report.devices[2].index == 3);
  CHECK_FALSE(report.devices[2].name);
  CHECK_FALSE(report.devices[2].total_bytes);
  CHECK(report.totals.allocations == 4);
  CHECK(report.totals.frees == 1);
  CHECK(report.totals.unmatched_frees == 1);
  CHECK(report.host_pinned.peak_bytes == 256 * MiB);
  CHECK(report.host_pinned.live_bytes == 0);
  CHECK(report.trace.complete);
  CHECK(report.trace.exit_reason == std::string("signal SIGTERM"));
  CHECK(report.trace.format_version == std::to_string(trace::kFormatMajor) + "." + std::to_string(trace::kFormatMinor));
  CHECK(report.trace.path.front() == '/');
  REQUIRE(report.settings.size() == 1);
  CHECK(report.settings[0].key == "PYTORCH_CUDA_ALLOC_CONF");
}

TEST_CASE("the live process's own figures win over the replay", "[analysis]") {
  TraceBuilder builder = process_holding(2 * GiB);
  FailureSpec spec = failure_on_gpu0(8 * GiB, 4 * GiB, 11 * GiB);
  spec.segments = 40;
  builder.fail(spec).finish();
  const FailureReport f = analyze_built(builder).failures.at(0);
  CHECK(f.process_reserved_bytes == 11 * GiB);
  CHECK(f.process_segments == 40);
  CHECK(f.other_bytes == 1 * GiB);
  CHECK_FALSE(f.process_allocated_bytes);
}

TEST_CASE("odd figures from a corrupt trace do not wrap around", "[analysis]") {
  TraceBuilder builder = process_holding(2 * GiB);
  FailureSpec spec = failure_on_gpu0(UINT64_MAX, 0, 0);
  spec.total = 1 * GiB;
  spec.free = 4 * GiB;  // more free than the device has
  builder.fail(spec).finish();
  const FailureReport f = analyze_built(builder).failures.at(0);
  CHECK(f.other_bytes == 0u);
  CHECK(f.verdict == Verdict::ExceedsCapacity);
  FailureReport huge = f;
  huge.device_free_bytes = 0;
  huge.process_reserved_bytes = 1;
  CHECK(percent_to_cut(huge) == UINT64_MAX);
}

TEST_CASE("every prefix of a trace yields a report", "[analysis]") {
  // What a crash at any byte leaves behind must still be explained.
  TempDir dir;
  TraceBuilder builder = process_holding(6 * GiB);
  builder.frame(1, 0x7f00, "libx.so", "f", 1).stack(2, {1});
  FailureSpec spec = failure_on_gpu0(12 * GiB, 9 * GiB, 0);
  spec.nvml_known = true;
  spec.processes = {{kSelfPid, 6 * GiB}, {9, 1 * GiB}};
  spec.stack_id = 2;
  builder.fail(spec).free(0, 0x10000000).alloc(0, 0x90000000, 1 * GiB, Api::cudaMalloc, 2).finish();
  std::string path = dir.file("t.trace");
  builder.write(path);
  std::vector<uint8_t> bytes = read_bytes(path);
  for (size_t cut = trace::kHeaderSize; cut <= bytes.size(); ++cut) {
    INFO("cut at byte " << cut);
    trace::ReadResult read = trace::parse_trace(bytes.data(), cut, path);
    REQUIRE(read.trace);
    Report report = analyze(*read.trace);
    CHECK(report.trace.complete == (cut == bytes.size()));
    CHECK(report.failures.size() == read.trace->failures.size());
  }
}
