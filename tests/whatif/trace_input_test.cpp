// An oomtrace trace as whatif's input: pool blocks are the requests,
// cudaMalloc/cudaFree the device allocations, an unrecovered failure the
// out-of-memory.
#include <catch2/catch.hpp>

#include "report/whatif/whatif.h"
#include "trace_builder.h"

using namespace oomtrace;
using test::MiB;

namespace {

constexpr uint64_t A = uint64_t{0x7f0000000000};

Event pool_call(Api api, uint64_t address, uint64_t size = 0) {
  Event event;
  event.type = api == Api::oomtrace_pool_free ? EventType::Free : EventType::Alloc;
  event.api = api;
  event.device = kHostDevice;  // pool calls name no device: the segment holding them does
  event.address = address;
  event.size = size;
  return event;
}

test::TraceBuilder program_that_runs_out() {
  test::TraceBuilder builder;
  builder.process(1)
      .device(0, 64 * MiB)
      .setting("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
      .alloc(0, A, 20 * MiB)
      .event(pool_call(Api::oomtrace_pool_alloc, A, 5 * MiB))
      .event(pool_call(Api::oomtrace_pool_alloc, A + 5 * MiB, 5 * MiB))
      .event(pool_call(Api::oomtrace_pool_free, A))
      .event(pool_call(Api::oomtrace_pool_alloc, A, 4 * MiB));
  test::FailureSpec failure;
  failure.request = 40 * MiB;
  failure.total = 64 * MiB;
  failure.free = 4 * MiB;
  failure.reserved = 20 * MiB;
  builder.fail(failure).finish();
  return builder;
}

}  // namespace

TEST_CASE("a trace with pool blocks is replayed, its failure found again") {
  test::TempDir dir;
  trace::Trace trace = program_that_runs_out().build(dir.file("run.trace"));
  report::WhatIfOptions options;
  options.alternatives = {"expandable_segments:True"};
  report::WhatIfResult result = report::analyze_whatif(trace, options);
  INFO(result.error);
  REQUIRE(result.analysis);
  const report::WhatIfAnalysis& analysis = *result.analysis;
  CHECK(analysis.input_kind == "oomtrace-trace");
  CHECK(analysis.recorded_settings == "max_split_size_mb:128");
  CHECK(analysis.settings_origin == "PYTORCH_CUDA_ALLOC_CONF in the trace");
  CHECK(analysis.fidelity.counts.allocations_recorded == 3);
  CHECK(analysis.fidelity.counts.allocations_same_address == 3);
  CHECK(analysis.fidelity.counts.segment_allocs_reproduced == 1);
  CHECK(analysis.capacity_bytes == 24 * MiB);  // 64 MiB less the 40 MiB others held
  CHECK_THAT(analysis.capacity_source, Catch::Contains("other processes"));
  REQUIRE(analysis.rows.size() == 2);
  REQUIRE(analysis.rows[0].oom_at_event);
  CHECK(*analysis.rows[0].oom_at_event == 5);  // the failed cudaMalloc, after 1 + 4 calls
  CHECK(analysis.rows[1].oom_at_event);
  CHECK(analysis.recommendation() == nullptr);
  std::optional<report::BestSetting> roomy = report::best_setting(trace, 128 * MiB);
  REQUIRE(roomy);
  CHECK(roomy->predicted_peak_reserved_bytes <= 80 * MiB);
}

TEST_CASE("a failure PyTorch recovered from is not an out-of-memory") {
  test::TempDir dir;
  test::TraceBuilder builder;
  builder.process(1).device(0, 64 * MiB).alloc(0, A, 20 * MiB).event(pool_call(Api::oomtrace_pool_alloc, A, 5 * MiB));
  test::FailureSpec failure;
  failure.request = 40 * MiB;
  builder.fail(failure).alloc(0, A + 64 * MiB, 40 * MiB).event(pool_call(Api::oomtrace_pool_alloc, A + 64 * MiB, 40 * MiB));
  trace::Trace trace = builder.finish().build(dir.file("recovered.trace"));
  report::WhatIfInputResult input = report::whatif_input_from_trace(trace, std::nullopt);
  REQUIRE(input.input);
  CHECK(input.input->ooms.empty());
  CHECK(input.input->recording.events.size() == 4);
}

TEST_CASE("a trace without pool blocks has nothing to replay") {
  test::TempDir dir;
  test::TraceBuilder builder;
  builder.process(1).device(0, 64 * MiB).alloc(0, A, 20 * MiB).free(0, A);
  trace::Trace trace = builder.finish().build(dir.file("plain.trace"));
  report::WhatIfResult result = report::analyze_whatif(trace, {});
  CHECK_FALSE(result.analysis);
  CHECK_THAT(result.error, Catch::Contains("oomtrace_pool_alloc"));
}
