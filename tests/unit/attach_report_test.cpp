// A process `oomtrace attach` joined: the Attach record survives the trace,
// and the report weighs the memory held before the attach.
#include <catch2/catch.hpp>

#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "report/render/text_report.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::report;
using namespace oomtrace::test;

namespace {

trace::AttachInfo attach_holding(uint64_t total, uint64_t free, uint64_t process_bytes) {
  trace::AttachInfo attach;
  attach.unix_ns = 1796300000ull * 1000000000ull;
  attach.outer_pid = 4242;
  trace::AttachBaseline device;
  device.device = 0;
  device.memory_known = true;
  device.total_bytes = total;
  device.free_bytes = free;
  device.process_known = true;
  device.process_used_bytes = process_bytes;
  attach.devices.push_back(device);
  attach.paths.push_back({"got", true, "calls through the import tables (PLT/GOT): 12 slots patched in 3 modules"});
  attach.paths.push_back({"cupti", false, "CUPTI is held by another subscriber (Nsight Systems)"});
  return attach;
}

}  // namespace

TEST_CASE("the Attach record survives a round trip", "[trace][attach]") {
  TempDir dir;
  trace::Trace t = TraceBuilder().process(1).attach(attach_holding(16 * GiB, 14 * GiB, 2 * GiB)).finish().build(dir.file("a.trace"));
  REQUIRE(t.attach);
  CHECK(t.attach->outer_pid == 4242);
  REQUIRE(t.attach->devices.size() == 1);
  CHECK(t.attach->devices[0].free_bytes == 14 * GiB);
  CHECK(t.attach->devices[0].process_used_bytes == 2 * GiB);
  REQUIRE(t.attach->paths.size() == 2);
  CHECK(t.attach->paths[1].name == "cupti");
  CHECK_FALSE(t.attach->paths[1].covered);
}

TEST_CASE("memory held before attach still counts as held at the failure", "[analysis][attach]") {
  // 2 GiB held before the attach, 13.5 GiB allocated after, 0.5 GiB free:
  // the process filled the device itself, although the model saw only 13.5.
  TempDir dir;
  FailureSpec failure;
  failure.request = 1 * GiB;
  failure.total = 16 * GiB;
  failure.free = 512 * MiB;
  failure.reserved = 13 * GiB + 512 * MiB;
  failure.nvml_known = true;
  failure.processes = {{4242, 15 * GiB + 512 * MiB}};  // the process itself, by its host pid
  Report report = analyze(TraceBuilder()
                              .process(1)
                              .device(0, 16 * GiB)
                              .attach(attach_holding(16 * GiB, 14 * GiB, 2 * GiB))
                              .alloc(0, 0x10000, 13 * GiB + 512 * MiB)
                              .fail(failure)
                              .finish()
                              .build(dir.file("oomtrace.h.1.trace")));
  REQUIRE(report.attach);
  CHECK(report.attach->baseline_device_used_bytes == 2 * GiB);
  REQUIRE(report.failures.size() == 1);
  const FailureReport& f = report.failures[0];
  CHECK(f.held_before_attach_bytes == 2 * GiB);
  CHECK(f.process_reserved_bytes == 15 * GiB + 512 * MiB);
  CHECK(f.other_processes.empty());  // the host pid is the process itself
  REQUIRE(f.verdict);
  CHECK(*f.verdict == Verdict::Exhausted);
  CHECK(f.explanation.find("held before attach, origin unknown") != std::string::npos);
  CHECK(report.totals.allocations == 1);

  std::string text = render_text(report);
  CHECK(text.find("2.00 GiB held before attach, origin unknown") != std::string::npos);
  CHECK(text.find("not covered: CUPTI is held by another subscriber (Nsight Systems)") != std::string::npos);
  nlohmann::ordered_json json = to_json(report);
  CHECK(json["attach"]["baseline_device_used_bytes"] == 2 * GiB);
  CHECK(json["attach"]["paths"][0]["name"] == "got");
  CHECK(json["attach"]["time"] == "2026-12-03T12:13:20Z");
  CHECK(json["failures"][0]["held_before_attach_bytes"] == 2 * GiB);
}

TEST_CASE("a trace from the start has no attach section", "[analysis][attach]") {
  TempDir dir;
  Report report = analyze(TraceBuilder().process(1).device(0, 16 * GiB).alloc(0, 0x10000, 1 * GiB).finish().build(
      dir.file("oomtrace.h.1.trace")));
  CHECK_FALSE(report.attach);
  CHECK(to_json(report)["attach"].is_null());
}
