// leak_suspected, from synthetic traces.
#include <catch2/catch.hpp>

#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "report/analysis/leak_detection.h"
#include "report/render/text_report.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using report::LeakSignal;
using Catch::Contains;

namespace {

constexpr uint32_t kActivationStack = 1;
constexpr uint32_t kKeptStack = 2;

TraceBuilder with_stacks() {
  TraceBuilder builder;
  builder.process(7)
      .device(0, 16 * GiB)
      .frame(1, 0x1000, "libcudart.so.12", "cudaMalloc", 0x10)
      .frame(2, 0x2000, "libmodel.so", "Model::forward", 0x20)
      .frame(3, 0x3000, "libmodel.so", "log_metrics", 0x30)
      .stack(kActivationStack, {1, 2})
      .stack(kKeptStack, {1, 3});
  return builder;
}

// Each step allocates activations and frees them; with `kept` > 0 it also
// keeps that much for good.
TraceBuilder training(size_t steps, uint64_t kept) {
  TraceBuilder builder = with_stacks();
  builder.alloc(0, 0x100000000, 4 * GiB);  // weights
  for (size_t step = 0; step < steps; ++step) {
    uint64_t activations = 0x200000000 + step * 0x1000;
    builder.alloc(0, activations, 1 * GiB, Api::cudaMalloc, kActivationStack);
    if (kept > 0) builder.alloc(0, 0x300000000 + step * 0x1000, kept, Api::cudaMalloc, kKeptStack);
    builder.free(0, activations);
  }
  return builder;
}

trace::Trace built(const TraceBuilder& builder, TempDir& dir) { return builder.build(dir.file("t.trace")); }

}  // namespace

TEST_CASE("memory kept every step is a suspected leak, with the site that kept it", "[leak]") {
  TempDir dir;
  LeakSignal leak = report::detect_leak(built(training(40, 64 * MiB), dir));
  REQUIRE(leak.suspected);
  CHECK(leak.growth_bytes >= 30 * 64 * MiB);
  CHECK_THAT(leak.explanation, Contains("grew steadily") && Contains("never came back down"));
  REQUIRE_FALSE(leak.sites.empty());
  CHECK(leak.sites[0].frame == "log_metrics+0x30 (libmodel.so)");  // past the CUDA runtime's frame
  CHECK(leak.sites[0].stack.size() == 2);
  CHECK(leak.sites[0].growth_bytes == leak.sites[0].count * 64 * MiB);
  CHECK(leak.sites.size() == 1);  // the activations came and went
}

TEST_CASE("a steady loop is no leak", "[leak]") {
  TempDir dir;
  LeakSignal leak = report::detect_leak(built(training(40, 0), dir));
  CHECK_FALSE(leak.suspected);
  CHECK(leak.sites.empty());
}

TEST_CASE("a cache that warms up and then stays flat is no leak", "[leak]") {
  TempDir dir;
  TraceBuilder builder = with_stacks();
  for (uint64_t i = 0; i < 6; ++i) builder.alloc(0, 0x400000000 + i * 0x1000, 1 * GiB);  // the warm-up
  for (size_t step = 0; step < 40; ++step) {
    builder.alloc(0, 0x500000000, 512 * MiB, Api::cudaMalloc, kActivationStack).free(0, 0x500000000);
  }
  CHECK_FALSE(report::detect_leak(built(builder, dir)).suspected);
}

TEST_CASE("a handful of events tell no trend", "[leak]") {
  TempDir dir;
  LeakSignal leak = report::detect_leak(built(training(3, 64 * MiB), dir));
  CHECK_FALSE(leak.suspected);
  CHECK_THAT(leak.explanation, Contains("Too few"));
}

TEST_CASE("a suspected leak reaches the report: JSON, text and the failure's suggestions", "[leak]") {
  TempDir dir;
  TraceBuilder builder = training(40, 64 * MiB);
  FailureSpec spec;
  spec.request = 2 * GiB;
  spec.total = 8 * GiB;  // the process's own 6.5 GiB fills it: exhausted
  spec.free = 1 * GiB;
  builder.fail(spec).finish();
  report::Report r = report::analyze(built(builder, dir));
  REQUIRE(r.leak_suspected.suspected);
  REQUIRE(r.failures.size() == 1);
  CHECK(r.failures[0].verdict == report::Verdict::Exhausted);
  REQUIRE_FALSE(r.failures[0].suggestions.empty());
  CHECK_THAT(r.failures[0].suggestions[0].setting, Contains(".item()") && Contains(".detach()"));
  CHECK_THAT(r.failures[0].suggestions[0].reason, Contains("log_metrics"));

  auto json = report::to_json(r);
  CHECK(json.at("leak_suspected").at("suspected") == true);
  CHECK(json.at("leak_suspected").at("sites").at(0).at("frame") == "log_metrics+0x30 (libmodel.so)");
  CHECK_THAT(report::render_text(r), Contains("Leak suspected: live device memory grew by"));
}
