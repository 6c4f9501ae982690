// The text report: short, in the order a person reads it, ending with the
// command that shows everything.
#include <catch2/catch.hpp>

#include <algorithm>

#include "report/analysis/analysis.h"
#include "report/render/text_report.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using Catch::Contains;
using Catch::EndsWith;
using Catch::StartsWith;

namespace {

struct Rendered {
  std::string text;
  std::string trace_path;
};

Rendered render(const TraceBuilder& builder) {
  TempDir dir;
  std::string path = dir.file("oomtrace.testhost.123.trace");
  report::Report report = report::analyze(builder.build(path));
  return {report::render_text(report), path};
}

TraceBuilder exhausted_trace() {
  TraceBuilder builder;
  builder.process(123)
      .device(0, 16 * GiB)
      .frame(1, 0x7f0000001000, "libc10_cuda.so", "c10::cuda::CUDACachingAllocator::malloc", 0x2a)
      .frame(2, 0x7f0000002000, "libtorch_cuda.so", "", 0x1f00)
      .stack(5, {1, 2});
  for (uint64_t i = 0; i < 7; ++i) builder.alloc(0, 0x10000000 + i * 2 * GiB, 2 * GiB);
  FailureSpec spec;
  spec.request = 2 * GiB;
  spec.total = 16 * GiB;
  spec.free = GiB + GiB / 5;  // 1.20 GiB
  spec.nvml_known = true;
  spec.processes = {{123, 14 * GiB}, {4242, 600 * MiB}};
  spec.stack_id = 5;
  builder.fail(spec);
  return builder;
}

// The report wraps paragraphs at 80 columns; checks on a sentence should
// not depend on where the line breaks fell.
std::string spaces_collapsed(const std::string& text) {
  std::string flat;
  for (char c : text) {
    bool blank = c == ' ' || c == '\n';
    if (blank && (flat.empty() || flat.back() == ' ')) continue;
    flat += blank ? ' ' : c;
  }
  return flat;
}

size_t line_index(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  return at == std::string::npos ? std::string::npos : std::count(text.begin(), text.begin() + at, '\n');
}

}  // namespace

TEST_CASE("a failure is explained in full", "[text]") {
  TraceBuilder builder = exhausted_trace();
  builder.finish("exit");
  Rendered r = render(builder);
  INFO(r.text);
  CHECK_THAT(r.text, StartsWith("CUDA out of memory: cudaMalloc of 2.00 GiB failed on GPU 0 "
                                "(Fake GPU, 16.00 GiB total, 1.20 GiB free)\n"));
  CHECK_THAT(r.text, Contains("This process held: 14.00 GiB in 7 allocations"));
  CHECK_THAT(r.text, Contains("Other processes and the CUDA context held: 819.20 MiB (pid 4242: 600.00 MiB)"));
  CHECK_THAT(r.text, Contains("Verdict: exhausted"));
  CHECK_THAT(r.text, Contains("Why: "));
  CHECK_THAT(r.text, Contains("Try:\n  1. reduce the batch size"));
  CHECK_THAT(r.text, Contains("  2. PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"));
  CHECK_THAT(r.text, Contains("c10::cuda::CUDACachingAllocator::malloc+0x2a (libc10_cuda.so)"));
  CHECK_THAT(r.text, Contains("0x7f0000002000 (libtorch_cuda.so+0x1f00)"));
  CHECK(line_index(r.text, "Verdict:") < line_index(r.text, "Try:"));
  CHECK(line_index(r.text, "Try:") < line_index(r.text, "Where"));
}

TEST_CASE("every text report ends with the command for the full report", "[text]") {
  SECTION("with a failure") {
    TraceBuilder builder = exhausted_trace();
    builder.finish();
    Rendered r = render(builder);
    CHECK_THAT(r.text, EndsWith("\nFull report: oomtrace report --format json " + r.trace_path + "\n"));
  }
  SECTION("without one") {
    TraceBuilder builder;
    builder.process(1).device(0, 8 * GiB).alloc(0, 0x1000, 3 * GiB).alloc(0, 0x2000, MiB).free(0, 0x1000).finish();
    Rendered r = render(builder);
    INFO(r.text);
    std::string flat = spaces_collapsed(r.text);
    CHECK_THAT(flat, StartsWith("No CUDA out-of-memory failure. The process made 2 allocations and 1 free."));
    CHECK_THAT(flat, Contains("Peak reserved on GPU 0 (Fake GPU): 3.00 GiB of 8.00 GiB."));
    CHECK_THAT(flat, Contains("Live at end on GPU 0: 1.00 MiB in 1 allocation."));
    CHECK_THAT(r.text, EndsWith("Full report: oomtrace report --format json " + r.trace_path + "\n"));
  }
  SECTION("a path that needs quoting is quoted for the shell") {
    CHECK(report::full_report_command("/tmp/my traces/it's.trace") ==
          "Full report: oomtrace report --format json '/tmp/my traces/it'\\''s.trace'");
  }
}

TEST_CASE("the unrecovered failure comes first, the others in one line each", "[text]") {
  TraceBuilder builder;
  builder.process(1).device(0, 16 * GiB).alloc(0, 0x1000, 12 * GiB);
  FailureSpec recovered;
  recovered.request = 6 * GiB;
  recovered.total = 16 * GiB;
  recovered.free = 4 * GiB;
  builder.fail(recovered).free(0, 0x1000).alloc(0, 0x2000, 6 * GiB).alloc(0, 0x3000, 9 * GiB);
  FailureSpec fatal = recovered;
  fatal.request = 3 * GiB;
  fatal.free = 1 * GiB;
  builder.fail(fatal).finish();
  Rendered r = render(builder);
  INFO(r.text);
  CHECK_THAT(r.text, StartsWith("CUDA out of memory: cudaMalloc of 3.00 GiB failed"));
  CHECK_THAT(r.text, Contains("Other out-of-memory failures (1):\n  - at "));
  CHECK_THAT(r.text, Contains(": cudaMalloc of 6.00 GiB on GPU 0, exhausted, recovered\n"));
}

TEST_CASE("of several unrecovered failures the last one is shown in full", "[text]") {
  TraceBuilder builder;
  builder.process(1).device(0, 16 * GiB).alloc(0, 0x1000, 16 * GiB);
  FailureSpec probe;
  probe.request = 1 * GiB;
  probe.total = 16 * GiB;
  probe.free = 0;
  FailureSpec fatal = probe;
  fatal.request = 2 * GiB;
  builder.fail(probe).fail(fatal).finish();
  Rendered r = render(builder);
  INFO(r.text);
  CHECK_THAT(r.text, StartsWith("CUDA out of memory: cudaMalloc of 2.00 GiB failed"));
  CHECK_THAT(r.text, Contains(": cudaMalloc of 1.00 GiB on GPU 0, exhausted, not recovered\n"));
}

TEST_CASE("a killed process shows what was live at its last event", "[text]") {
  TraceBuilder builder;
  builder.process(1)
      .device(0, 16 * GiB)
      .frame(1, 0x7f00, "libmodel.so", "Model::forward", 0x40)
      .stack(2, {1})
      .alloc(0, 0x1000, 5 * GiB, Api::cudaMalloc, 2)
      .alloc(0, 0x2000, 1 * GiB);
  Rendered r = render(builder);  // no trailer
  INFO(r.text);
  CHECK_THAT(spaces_collapsed(r.text),
             Contains("The process ended without closing the trace (killed, e.g. SIGKILL or the kernel's "
                      "OOM killer); figures are up to its last recorded event."));
  CHECK_THAT(r.text, Contains("Live allocations at the last event:\nGPU 0 (Fake GPU): 6.00 GiB in 2 allocations"));
  CHECK_THAT(r.text, Contains("  5.00 GiB  cudaMalloc  at 0.001 s  in Model::forward+0x40 (libmodel.so)\n"));
  CHECK_THAT(r.text, EndsWith("Full report: oomtrace report --format json " + r.trace_path + "\n"));
}
