// The parts of the HTML report that need no browser: escaping, the
// timeline's buckets, the segment map read from the model, and the page's
// handling of hostile strings from a trace.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "report/analysis/analysis.h"
#include "report/analysis/report_visuals.h"
#include "report/analysis/segment_map.h"
#include "report/analysis/timeline.h"
#include "report/render/html/html_report.h"
#include "report/render/html/html_text.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::report;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;

Event device_event(EventType type, Api api, uint64_t address, uint64_t size, uint64_t time_ns = 0) {
  Event event;
  event.type = type;
  event.api = api;
  event.device = 0;
  event.address = address;
  event.size = size;
  event.time_ns = time_ns;
  return event;
}

FailureReport failure_at(uint64_t time_ns, uint64_t requested, std::optional<uint64_t> free_bytes) {
  FailureReport failure;
  failure.device = 0;
  failure.time_ns = time_ns;
  failure.requested_bytes = requested;
  failure.device_free_bytes = free_bytes;
  failure.verdict = Verdict::Exhausted;
  return failure;
}

}  // namespace

TEST_CASE("escape_html: markup characters become entities, control characters go") {
  CHECK(html::escape_html("<script>alert('x' & \"y\")</script>") ==
        "&lt;script&gt;alert(&#39;x&#39; &amp; &quot;y&quot;)&lt;/script&gt;");
  CHECK(html::escape_html(std::string("a\x01" "b\tc\n", 6)) == "ab\tc\n");
}

TEST_CASE("timeline: each bucket keeps its highest value, and an empty bucket the one before it") {
  TimelineBuilder builder(kTimelineBuckets * 100);  // buckets of 100 ns
  builder.record(0, 10, 100, std::nullopt);
  builder.record(0, 20, 900, std::nullopt);  // a peak inside the first bucket
  builder.record(0, 30, 50, 40);
  builder.record(0, 550, 300, std::nullopt);  // bucket 5
  Report report;
  report.failures.push_back(failure_at(560, 64 * kMiB, 7 * kMiB));
  report.failures[0].recovered = true;
  Timeline timeline = builder.finish(report);

  REQUIRE(timeline.devices.size() == 1);
  const DeviceTimeline& device = timeline.devices[0];
  REQUIRE(device.buckets.size() == kTimelineBuckets);
  CHECK(device.buckets[0].reserved_bytes == 900);
  CHECK(device.buckets[0].allocated_bytes == 40u);
  CHECK(device.buckets[3].reserved_bytes == 900);  // held until the next event
  CHECK_FALSE(device.buckets[3].seen);
  CHECK(device.buckets[5].reserved_bytes == 300);
  CHECK(device.buckets.back().reserved_bytes == 300);
  CHECK(device.peak_reserved_bytes == 900);
  REQUIRE(device.failures.size() == 1);
  CHECK(device.failures[0].failure == 0);
  CHECK(device.failures[0].recovered);
  REQUIRE(device.device_free.size() == 1);
  CHECK(device.device_free[0].bytes == 7 * kMiB);
}

TEST_CASE("timeline: marks stop at kTimelineMarks, the rest are counted") {
  TimelineBuilder builder(1000);
  Report report;
  for (size_t i = 0; i < kTimelineMarks + 3; ++i) report.failures.push_back(failure_at(i, kMiB, std::nullopt));
  Timeline timeline = builder.finish(report);
  REQUIRE(timeline.devices.size() == 1);
  CHECK(timeline.devices[0].failures.size() == kTimelineMarks);
  CHECK(timeline.devices[0].failures_not_marked == 3);
}

TEST_CASE("segment map from the model: pool blocks with their states, opaque segments whole") {
  ProcessMemory memory;
  constexpr uint64_t kArena = 0x10000000;
  memory.apply(device_event(EventType::Alloc, Api::cudaMalloc, kArena, 64 * kMiB));
  memory.apply(device_event(EventType::Alloc, Api::cudaMalloc, 0x90000000, 8 * kMiB));
  // Blocks of 16 MiB at 0 and 32 MiB: free 16 MiB at 16 and 48 MiB.
  memory.apply(device_event(EventType::Alloc, Api::oomtrace_pool_alloc, kArena, 16 * kMiB));
  memory.apply(device_event(EventType::Alloc, Api::oomtrace_pool_alloc, kArena + 32 * kMiB, 16 * kMiB));

  SegmentMap map = segment_map_from_model(memory, 0, 24 * kMiB);
  CHECK(map.source == "trace-model");
  CHECK(map.segments_total == 2);
  CHECK(map.reserved_bytes == 72 * kMiB);
  CHECK(map.blocks_known);
  CHECK(map.free_bytes == 32 * kMiB);
  CHECK(map.largest_free_bytes == 16 * kMiB);
  REQUIRE(map.segments.size() == 2);
  const MapSegment& arena = map.segments[0];
  REQUIRE(arena.blocks.size() == 4);
  CHECK(arena.blocks[0].state == MapBlockState::Allocated);
  CHECK(arena.blocks[1].state == MapBlockState::Free);
  CHECK(arena.blocks[1].offset == 16 * kMiB);
  CHECK(arena.blocks[3].offset == 48 * kMiB);
  const MapSegment& opaque = map.segments[1];
  REQUIRE(opaque.blocks.size() == 1);
  CHECK(opaque.blocks[0].state == MapBlockState::Opaque);
  REQUIRE(map.free_histogram.size() == 1);
  CHECK(map.free_histogram[0].lower_bytes == 16 * kMiB);
  CHECK(map.free_histogram[0].count == 2);
}

TEST_CASE("segment map: the largest segments are drawn, every one is counted") {
  ProcessMemory memory;
  size_t segments = kMapSegments + 40;
  for (size_t i = 0; i < segments; ++i) {
    memory.apply(device_event(EventType::Alloc, Api::cudaMalloc, 0x10000000 + i * 0x1000000, (i + 1) * 4096));
  }
  SegmentMap map = segment_map_from_model(memory, 0, kMiB);
  CHECK(map.segments_total == segments);
  REQUIRE(map.segments.size() == kMapSegments);
  CHECK(map.segments.front().size == 41 * 4096);  // the 40 smallest left out
  CHECK_FALSE(map.blocks_known);
  CHECK(std::is_sorted(map.segments.begin(), map.segments.end(),
                       [](const MapSegment& a, const MapSegment& b) { return a.address < b.address; }));
}

TEST_CASE("the page: strings from the trace are escaped, one mark and one section per failure") {
  Report report;
  report.process.executable = "/tmp/<img src=x onerror=alert(1)>";
  report.process.argv = {"train.py", "--name=\"a&b\""};
  report.failures.push_back(failure_at(100, 64 * kMiB, 2 * kMiB));
  report.failures[0].explanation = "held <everything>";
  report.failures[0].stack = {"step</pre><script>bad()</script>"};
  TimelineBuilder builder(1000);
  builder.record(0, 50, 128 * kMiB, std::nullopt);
  ReportVisuals visuals;
  visuals.timeline = builder.finish(report);

  std::string page = render_html(report, visuals);
  CHECK(page.find("<img src=x") == std::string::npos);
  CHECK(page.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  CHECK(page.find("<script>bad()") == std::string::npos);
  CHECK(page.find("held &lt;everything&gt;") != std::string::npos);
  CHECK(page.find("--name=&quot;a&amp;b&quot;") != std::string::npos);
  CHECK(page.find("class=\"failure-mark") != std::string::npos);
  CHECK(page.find("id=\"failure-0\"") != std::string::npos);
  CHECK(page.find("Verdict: <span>exhausted</span>") != std::string::npos);
}

TEST_CASE("pictures of a trace: frees lower the timeline, the map shows what was held at the failure") {
  test::TempDir dir;
  test::FailureSpec failure;
  failure.request = 6 * 1024 * kMiB;
  failure.total = 8 * 1024 * kMiB;
  failure.free = 3 * 1024 * kMiB;
  test::TraceBuilder builder;
  builder.process(7).device(0, 8 * kMiB * 1024)
      .alloc(0, 0x1000000, 1024 * kMiB)
      .alloc(0, 0x50000000, 2048 * kMiB)
      .alloc(0, 0xd0000000, 512 * kMiB)
      .free(kHostDevice, 0x50000000)  // as the library records frees: no device
      .fail(failure)
      .free(kHostDevice, 0xd0000000)
      .finish();
  trace::Trace trace = builder.build(dir.file("t.trace"));
  Report report = analyze(trace);
  ReportVisuals visuals = analyze_visuals(trace, report);

  REQUIRE(visuals.timeline.devices.size() == 1);
  const DeviceTimeline& device = visuals.timeline.devices[0];
  CHECK(device.peak_reserved_bytes == 3584 * kMiB);
  CHECK(device.buckets.back().reserved_bytes == 1024 * kMiB);  // after the last free
  REQUIRE(device.failures.size() == 1);
  REQUIRE(device.device_free.size() == 1);
  CHECK(device.device_free[0].bytes == 3 * 1024 * kMiB);

  REQUIRE(visuals.failures.size() == 1);
  const SegmentMap& map = visuals.failures[0].segment_map;
  CHECK(map.segments_total == 2);  // the one freed before the failure is gone
  CHECK(map.reserved_bytes == 1536 * kMiB);
  CHECK(map.requested_bytes == 6 * 1024 * kMiB);
  REQUIRE(visuals.failures[0].top_sites.size() == 1);
  CHECK(visuals.failures[0].top_sites[0].bytes == 1536 * kMiB);
  CHECK(visuals.failures[0].top_sites[0].count == 2);
}
