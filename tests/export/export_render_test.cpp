// Both exports on synthetic traces: the cases a scenario does not reach.
#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>

#include "report/render/export/perfetto_export.h"
#include "report/render/export/torch_snapshot_export.h"
#include "report/snapshot/torch_snapshot.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using oomtrace::report::TorchSnapshot;

namespace {

Event pool(EventType type, uint64_t address, uint64_t size = 0) {
  Event event;
  event.type = type;
  event.api = type == EventType::Alloc ? Api::oomtrace_pool_alloc : Api::oomtrace_pool_free;
  event.address = address;
  event.size = size;
  return event;
}

TorchSnapshot exported_snapshot(const trace::Trace& trace) {
  std::string bytes = report::export_torch_snapshot(trace);
  report::TorchSnapshotResult read =
      report::parse_torch_snapshot(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  INFO(read.error);
  REQUIRE(read.snapshot.has_value());
  return std::move(*read.snapshot);
}

std::map<std::string, int> action_counts(const TorchSnapshot& snapshot, size_t device) {
  std::map<std::string, int> counts;
  for (const auto& entry : snapshot.device_traces.at(device)) ++counts[report::torch_trace_action_name(entry.action)];
  return counts;
}

}  // namespace

TEST_CASE("torch snapshot: freed segments leave the trace, blocks reported over live ones replace them") {
  TempDir dir;
  TraceBuilder builder;
  builder.process(7).device(0, 8 * GiB).device(1, 8 * GiB);
  // Frees name no device, as the recorder writes them.
  builder.alloc(0, 0x10000000, 64 * MiB).free(kHostDevice, 0x10000000);  // gone by the end
  builder.alloc(1, 0x20000000, 64 * MiB);                          // opaque: one block
  builder.alloc(0, 0x30000000, 64 * MiB);                          // sub-allocated below
  builder.event(pool(EventType::Alloc, 0x30000000, 16 * MiB));
  builder.event(pool(EventType::Alloc, 0x30000000 + 8 * MiB, 16 * MiB));  // overlaps the first
  builder.event(pool(EventType::Alloc, 0x30000000 + 32 * MiB, 8 * MiB));
  builder.event(pool(EventType::Free, 0x30000000 + 32 * MiB));
  builder.event(pool(EventType::Alloc, 0x70000000, 8 * MiB));      // inside no segment: not shown
  builder.alloc(kHostDevice, 0x90000000, 8 * MiB, Api::cudaMallocHost);  // host memory: not a segment
  builder.fail({.device = 1, .request = 9 * GiB, .total = 8 * GiB, .free = 7 * GiB});
  builder.setting("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True");
  TorchSnapshot snapshot = exported_snapshot(builder.finish().build(dir.file("t.trace")));

  REQUIRE(snapshot.segments.size() == 2);
  const report::TorchSegment& blocks = snapshot.segments[0];  // device 0 first
  CHECK(blocks.device == 0);
  CHECK(blocks.address == 0x30000000);
  CHECK(blocks.allocated_size == 16 * MiB);  // only the newer, overlapping block
  REQUIRE(blocks.blocks.size() == 3);        // free 8 MiB, the block, free 40 MiB
  CHECK(blocks.blocks[1].address == 0x30000000 + 8 * MiB);
  CHECK(blocks.blocks[1].state == report::TorchBlockState::ActiveAllocated);
  CHECK(blocks.blocks[2].size == 40 * MiB);
  const report::TorchSegment& opaque = snapshot.segments[1];
  CHECK(opaque.device == 1);
  REQUIRE(opaque.blocks.size() == 1);
  CHECK(opaque.blocks[0].size == 64 * MiB);

  REQUIRE(snapshot.device_traces.size() == 2);
  std::map<std::string, int> device0 = action_counts(snapshot, 0);
  CHECK(device0["segment_alloc"] == 2);
  CHECK(device0["segment_free"] == 1);
  CHECK(device0["alloc"] == 4);           // the freed segment's block and three reported ones
  CHECK(device0["free_completed"] == 3);  // the freed segment's, the overlapped and the released block
  std::map<std::string, int> device1 = action_counts(snapshot, 1);
  CHECK(device1["oom"] == 1);
  CHECK(snapshot.device_traces[1].back().device_free_bytes == 7 * GiB);
  REQUIRE(snapshot.allocator_settings.size() == 1);
  CHECK(snapshot.allocator_settings[0].json_value == "\"expandable_segments:True\"");
}

TEST_CASE("perfetto: many changes are downsampled, the peak survives") {
  TempDir dir;
  TraceBuilder builder;
  builder.process(7).device(0, 80 * GiB);
  for (uint64_t i = 0; i < 20000; ++i) {
    uint64_t size = (i == 12345 ? 40 * GiB : MiB);
    builder.alloc(0, 0x100000000 + i * 64 * GiB, size).free(kHostDevice, 0x100000000 + i * 64 * GiB);
  }
  trace::Trace trace = builder.finish().build(dir.file("t.trace"));
  nlohmann::json document = nlohmann::json::parse(report::export_perfetto(trace, 100));
  uint64_t highest = 0;
  uint64_t last_reserved = 1;
  size_t points = 0;
  double previous_ts = -1;
  for (const auto& event : document["traceEvents"]) {
    if (event["ph"] != "C") continue;
    CHECK(event["name"] == "GPU 0 reserved");
    ++points;
    highest = std::max<uint64_t>(highest, event["args"]["bytes"]);
    last_reserved = event["args"]["bytes"];
    CHECK(event["ts"].get<double>() >= previous_ts);
    previous_ts = event["ts"];
  }
  CHECK(points <= 3 * 101);
  CHECK(points >= 100);
  CHECK(highest == 40 * GiB);
  CHECK(last_reserved == 0);  // every allocation was freed
  CHECK(document["displayTimeUnit"] == "ms");
}
