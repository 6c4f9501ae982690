// The HTML report on a large trace: writes a trace of N events (segments
// allocated and freed, blocks reported through the pool API inside an
// arena, a failure now and then), then reads it, analyses it, works out the
// page's pictures and renders the page, timing each step. Fails when the
// page is 2 MB or more, or when reading the pictures and rendering take
// longer than the limit given (0: no limit, as under sanitizers).
//
//   html_scale_check FOLDER EVENTS MAX_SECONDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "report/analysis/analysis.h"
#include "report/analysis/report_visuals.h"
#include "report/render/html/html_report.h"
#include "trace/reader.h"
#include "trace/writer.h"

namespace {

using namespace oomtrace;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr uint64_t kArena = 0x7f0000000000;
constexpr uint64_t kArenaSize = 2 * kGiB;
constexpr uint64_t kSegmentBase = 0x7e0000000000;
constexpr size_t kLiveSegments = 200;
constexpr size_t kBlockSlots = 512;
constexpr uint64_t kBlockSlotSize = kArenaSize / kBlockSlots;
constexpr size_t kEventsPerFailure = 1'000'000;

class LargeTrace {
 public:
  explicit LargeTrace(trace::TraceWriter& out) : out_(out) {}

  void write(uint64_t events) {
    trace::ProcessInfo process;
    process.pid = 4242;
    process.host = "scale<host>";
    process.executable = "/opt/train & \"eval\".py";
    out_.write_process(process);
    out_.write_device({0, "Fake GPU", 16 * kGiB, ""});
    out_.write_frame({1, 0x401000, "train", "step", 0x10});
    out_.write_stack({1, {1}});
    event(EventType::Alloc, Api::cudaMalloc, kArena, kArenaSize);
    while (written_ < events) {
      cycle_segment();
      cycle_block();
      if (written_ / kEventsPerFailure > failures_) fail();
    }
    out_.finish({written_, time_ns_, "exit"});
  }

 private:
  void event(EventType type, Api api, uint64_t address, uint64_t size) {
    Event e;
    e.type = type;
    e.api = api;
    e.device = 0;
    e.address = address;
    e.size = size;
    e.time_ns = time_ns_ += 1000;
    e.thread = 7;
    e.stack_id = 1;
    out_.write_event(e);
    ++written_;
  }

  // One segment of the ring freed, a new one of another size in its place.
  void cycle_segment() {
    size_t slot = segment_turn_++ % kLiveSegments;
    uint64_t address = kSegmentBase + slot * 64 * kMiB;
    if (segment_turn_ > kLiveSegments) event(EventType::Free, Api::cudaFree, address, 0);
    event(EventType::Alloc, Api::cudaMalloc, address, (1 + segment_turn_ % 48) * kMiB);
  }

  // A block of the arena handed out, or given back: holes appear.
  void cycle_block() {
    size_t slot = (block_turn_++ * 7919) % kBlockSlots;
    uint64_t address = kArena + slot * kBlockSlotSize;
    if (block_live_[slot]) {
      event(EventType::Free, Api::oomtrace_pool_free, address, 0);
    } else {
      event(EventType::Alloc, Api::oomtrace_pool_alloc, address, kBlockSlotSize / 2);
    }
    block_live_[slot] = !block_live_[slot];
  }

  void fail() {
    ++failures_;
    trace::FailureContext context;
    context.event.type = EventType::AllocFailed;
    context.event.api = Api::cudaMalloc;
    context.event.device = 0;
    context.event.result = 2;
    context.event.size = 6 * kGiB;
    context.event.time_ns = time_ns_ += 1000;
    context.event.stack_id = 1;
    context.device_info_known = true;
    context.device_total_bytes = 16 * kGiB;
    context.device_free_bytes = 4 * kGiB;
    out_.write_failure(context);
    ++written_;
  }

  trace::TraceWriter& out_;
  uint64_t written_ = 0;
  uint64_t time_ns_ = 0;
  uint64_t failures_ = 0;
  size_t segment_turn_ = 0;
  size_t block_turn_ = 0;
  bool block_live_[kBlockSlots] = {};
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: html_scale_check FOLDER EVENTS MAX_SECONDS\n");
    return 2;
  }
  std::string trace_path = std::string(argv[1]) + "/scale.trace";
  uint64_t events = std::strtoull(argv[2], nullptr, 10);
  double limit = std::strtod(argv[3], nullptr);

  // The writer never replaces a file; the trace of an earlier run goes.
  std::filesystem::remove(trace_path);
  auto start = std::chrono::steady_clock::now();
  {
    trace::TraceWriter writer;
    if (!writer.create(trace_path)) {
      std::fprintf(stderr, "html_scale_check: cannot create %s\n", trace_path.c_str());
      return 1;
    }
    LargeTrace(writer).write(events);
  }
  double write_s = seconds_since(start);

  start = std::chrono::steady_clock::now();
  trace::ReadResult read = trace::read_trace(trace_path);
  if (!read.trace) {
    std::fprintf(stderr, "html_scale_check: %s\n", read.error.c_str());
    return 1;
  }
  double read_s = seconds_since(start);
  std::filesystem::remove(trace_path);  // hundreds of MB; the events are in memory now
  start = std::chrono::steady_clock::now();
  report::Report report = report::analyze(*read.trace);
  double analyze_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  report::ReportVisuals visuals = report::analyze_visuals(*read.trace, report);
  double visuals_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  std::string page = report::render_html(report, visuals);
  double render_s = seconds_since(start);
  std::ofstream(std::string(argv[1]) + "/scale.html") << page;

  std::printf("%zu events, %zu failures: write %.2f s, read %.2f s, analyze %.2f s, pictures %.2f s, "
              "render %.3f s; page %zu bytes\n",
              read.trace->events.size(), report.failures.size(), write_s, read_s, analyze_s, visuals_s, render_s,
              page.size());
  bool ok = true;
  if (page.size() >= 2 * 1024 * 1024) {
    std::printf("FAILED: the page is %zu bytes, 2 MB or more\n", page.size());
    ok = false;
  }
  if (limit > 0 && visuals_s + render_s > limit) {
    std::printf("FAILED: the pictures and the page took %.2f s, over %.2f s\n", visuals_s + render_s, limit);
    ok = false;
  }
  if (page.find("scale&lt;host&gt;") == std::string::npos || page.find("scale<host>") != std::string::npos) {
    std::printf("FAILED: the host name from the trace is not escaped on the page\n");
    ok = false;
  }
  if (visuals.timeline.devices.size() != 1 || visuals.timeline.devices[0].failures.size() != report.failures.size()) {
    std::printf("FAILED: expected one device timeline with a mark per failure\n");
    ok = false;
  }
  std::printf(ok ? "1 passed, 0 failed\n" : "0 passed, 1 failed\n");
  return ok ? 0 : 1;
}
