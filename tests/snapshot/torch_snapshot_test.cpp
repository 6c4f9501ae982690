// The PyTorch snapshot model and its analysis on small snapshots written
// here key by key, so each figure can be checked by hand.
#include <catch2/catch.hpp>

#include "pickle_compose.h"
#include "report/snapshot/snapshot_analysis.h"
#include "report/snapshot/torch_frames.h"
#include "report/snapshot/torch_snapshot.h"

using namespace oomtrace::report;
using namespace oomtrace::test;

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

std::pair<std::string, std::string> entry(std::string_view key, std::string value) {
  return {pk::text(key), std::move(value)};
}

std::string frame(std::string_view file, int64_t line, std::string_view name) {
  return pk::dict({entry("filename", pk::text(file)), entry("line", pk::integer(line)), entry("name", pk::text(name))});
}

TorchSnapshotResult read(const std::string& value) {
  std::string bytes = pk::pickle(value);
  return parse_torch_snapshot(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TorchSnapshot read_ok(const std::string& value) {
  TorchSnapshotResult result = read(value);
  INFO(result.error);
  REQUIRE(result.snapshot.has_value());
  return std::move(*result.snapshot);
}

std::string read_error(const std::string& value) {
  TorchSnapshotResult result = read(value);
  REQUIRE_FALSE(result.snapshot.has_value());
  return result.error;
}

std::string snapshot_of(const std::vector<std::string>& segments) {
  return pk::dict({entry("segments", pk::list(segments))});
}

std::string segment(uint64_t address, uint64_t total, const std::vector<std::string>& blocks, Entries more = {}) {
  Entries entries = {entry("device", pk::integer(0)), entry("address", pk::integer(static_cast<int64_t>(address))),
                     entry("total_size", pk::integer(static_cast<int64_t>(total))),
                     entry("segment_type", pk::text("large")), entry("blocks", pk::list(blocks))};
  entries.insert(entries.end(), more.begin(), more.end());
  return pk::dict(entries);
}

std::string block(uint64_t size, std::string_view state, Entries more = {}) {
  Entries entries = {entry("size", pk::integer(static_cast<int64_t>(size))), entry("state", pk::text(state))};
  entries.insert(entries.end(), more.begin(), more.end());
  return pk::dict(entries);
}

std::string at_address(uint64_t address, uint64_t size, std::string_view state) {
  return block(size, state, {entry("address", pk::integer(static_cast<int64_t>(address)))});
}

std::string history(uint64_t address, uint64_t real_size, const std::vector<std::string>& frames) {
  return pk::list({pk::dict({entry("addr", pk::integer(static_cast<int64_t>(address))),
                             entry("real_size", pk::integer(static_cast<int64_t>(real_size))),
                             entry("frames", pk::list(frames))})});
}

}  // namespace

TEST_CASE("legacy blocks are placed by walking their segment", "[snapshot]") {
  // Before PyTorch 2.1: no "address" on blocks; "history" holds the stack.
  TorchSnapshot snapshot = read_ok(snapshot_of({segment(
      0x1000, 0x600,
      {block(0x100, "active_allocated", {entry("history", history(0x1000, 0xf0, {frame("/app/train.py", 12, "step")}))}),
       block(0x200, "inactive"),
       block(0x300, "active_pending_free", {entry("history", history(0x1300, 0x2ff, {}))})})}));

  CHECK(snapshot.format == TorchSnapshotFormat::Legacy);
  REQUIRE(snapshot.segments.size() == 1);
  const std::vector<TorchBlock>& blocks = snapshot.segments[0].blocks;
  REQUIRE(blocks.size() == 3);
  CHECK(blocks[0].address == 0x1000);
  CHECK(blocks[1].address == 0x1100);
  CHECK(blocks[2].address == 0x1300);
  CHECK(blocks[0].requested_size == 0xf0);   // the history's real_size
  CHECK(blocks[1].requested_size == 0x200);  // nothing better: the size
  CHECK(blocks[2].state == TorchBlockState::ActivePendingFree);
  CHECK(python_stack(snapshot, blocks[0].stack, 16) == std::vector<std::string>{"/app/train.py:12 in step"});
  CHECK(blocks[2].stack == kNoTorchStack);
}

TEST_CASE("the figures follow their definitions", "[snapshot][analysis]") {
  TorchSnapshot snapshot = read_ok(snapshot_of({segment(
      0x1000, 0x600,
      {block(0x100, "active_allocated", {entry("history", history(0x1000, 0xf0, {frame("/app/train.py", 12, "step")}))}),
       block(0x200, "inactive"), block(0x300, "active_pending_free")})}));
  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(snapshot);
  REQUIRE(analysis.devices.size() == 1);
  const TorchDeviceMemory& d = analysis.devices[0];
  CHECK(d.reserved_bytes == 0x600);
  CHECK(d.allocated_bytes == 0x100);
  CHECK(d.requested_bytes == 0xf0);
  CHECK(d.pending_free_bytes == 0x300);
  // Pending-free bytes are cached but not free: in cached free, never the largest free block.
  CHECK(d.cached_free_bytes == 0x500);
  CHECK(d.largest_free_block_bytes == 0x200);
  REQUIRE(d.fragmentation.has_value());
  CHECK(*d.fragmentation == Approx(1.0 - 512.0 / 1280.0).epsilon(1e-15));
  CHECK(d.active_allocated.blocks == 1);
  CHECK(d.active_pending_free.blocks == 1);
  CHECK(d.inactive.blocks == 1);
  CHECK(d.inactive.bytes == 0x200);
  REQUIRE(d.free_block_histogram.size() == 1);
  CHECK(d.free_block_histogram[0].min_bytes == 512);
  CHECK(d.free_block_histogram[0].max_bytes == 1024);
  CHECK(d.free_block_histogram[0].blocks == 1);
  REQUIRE(d.top_sites.size() == 1);
  CHECK(d.top_sites[0].site == "/app/train.py:12 in step");
  CHECK(d.top_sites[0].bytes == 0x100);
  REQUIRE(d.largest_blocks.size() == 2);
  CHECK(d.largest_blocks[0].size == 0x300);
  CHECK(d.largest_blocks[0].state == TorchBlockState::ActivePendingFree);
  CHECK(d.largest_blocks[0].site == kNoStackSite);
  CHECK(d.largest_blocks[1].site == "/app/train.py:12 in step");
  CHECK(d.largest_blocks[1].python_stack == std::vector<std::string>{"/app/train.py:12 in step"});
  CHECK(d.segments == 1);
  CHECK(d.large_segments == 1);
  // No allocated_size was written, so there is nothing to disagree with.
  CHECK(analysis.notes.empty());
}

TEST_CASE("a segment with nothing free has no fragmentation", "[snapshot][analysis]") {
  TorchSnapshot snapshot = read_ok(snapshot_of({segment(0, 0x200, {at_address(0, 0x200, "active_allocated")})}));
  const TorchDeviceMemory d = analyze_torch_snapshot(snapshot).devices.at(0);  // a copy: the analysis is a temporary
  CHECK(d.cached_free_bytes == 0);
  CHECK(d.largest_free_block_bytes == 0);
  CHECK_FALSE(d.fragmentation.has_value());
  CHECK(d.free_block_histogram.empty());
}

TEST_CASE("a snapshot that disagrees with itself says so", "[snapshot][analysis]") {
  TorchSnapshot snapshot = read_ok(snapshot_of(
      {segment(0, 0x400, {at_address(0, 0x200, "active_allocated")}, {entry("allocated_size", pk::integer(0x300))})}));
  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(snapshot);
  REQUIRE(analysis.notes.size() == 2);
  CHECK(analysis.notes[0] == "GPU 0: the blocks add up to 512 bytes but the segments to 1024; reserved is the segments' sum.");
  CHECK(analysis.notes[1] ==
        "GPU 0: the segments' allocated_size adds up to 768 bytes, the active_allocated blocks to 512; "
        "allocated is the blocks' sum.");
}

TEST_CASE("current-format keys are read and optional ones may be missing", "[snapshot]") {
  std::string pool = pk::tuple({pk::integer(0), pk::integer(0)});
  TorchSnapshot snapshot = read_ok(pk::dict(
      {entry("segments",
             pk::list({segment(0x2000, 0x400, {at_address(0x2000, 0x400, "active_allocated")},
                               {entry("segment_pool_id", pool), entry("is_expandable", pk::boolean(true)),
                                entry("stream", pk::integer(-7)), entry("allocated_size", pk::integer(0x400))}),
                       pk::dict({entry("address", pk::integer(0)), entry("total_size", pk::integer(0)),
                                 entry("blocks", pk::list({}))})})),
       entry("allocator_settings",
             pk::dict({entry("expandable_segments", pk::boolean(true)), entry("max_split_size", pk::integer(-1)),
                       entry("garbage_collection_threshold", pk::text("0.5")),
                       entry("roundup_power2_divisions", pk::dict({entry("1", pk::integer(0))})),
                       entry("fraction", pk::none())})),
       entry("external_annotations",
             pk::list({pk::dict({entry("stage", pk::text("START")), entry("name", pk::text("step")),
                                 entry("device", pk::integer(0)), entry("time_us", pk::integer(17))})}))}));
  CHECK(snapshot.format == TorchSnapshotFormat::Current);
  REQUIRE(snapshot.segments.size() == 2);
  const TorchSegment& first = snapshot.segments[0];
  CHECK(first.is_expandable);
  CHECK(first.stream == -7);
  REQUIRE(first.pool_id.has_value());
  CHECK(first.pool_id->second == 0);
  CHECK(first.blocks[0].requested_size == 0x400);  // absent: the size
  CHECK(snapshot.segments[1].type == TorchSegmentType::Large);  // absent: large
  REQUIRE(snapshot.allocator_settings.size() == 5);
  CHECK(snapshot.allocator_settings[0].json_value == "true");
  CHECK(snapshot.allocator_settings[1].json_value == "-1");
  CHECK(snapshot.allocator_settings[2].json_value == "\"0.5\"");
  CHECK(snapshot.allocator_settings[3].json_value == "{\"1\":0}");
  CHECK(snapshot.allocator_settings[4].json_value == "null");
  REQUIRE(snapshot.external_annotations.size() == 1);
  CHECK(snapshot.external_annotations[0].time_us == 17);

  const TorchDeviceMemory d = analyze_torch_snapshot(snapshot).devices.at(0);  // a copy: the analysis is a temporary
  CHECK(d.segments == 2);
  CHECK(d.expandable_segments == 1);
}

TEST_CASE("a bare list of segments is an older snapshot", "[snapshot]") {
  TorchSnapshot snapshot = read_ok(pk::list({segment(0, 0x100, {block(0x100, "inactive")})}));
  CHECK(snapshot.format == TorchSnapshotFormat::SegmentList);
  CHECK(snapshot.segments.at(0).blocks.at(0).address == 0);
}

TEST_CASE("the trace of each device is counted by action", "[snapshot][analysis]") {
  auto event = [](std::string_view action, Entries more = {}) {
    Entries entries = {entry("action", pk::text(action)), entry("addr", pk::integer(0x10)),
                       entry("size", pk::integer(4096)), entry("stream", pk::integer(0))};
    entries.insert(entries.end(), more.begin(), more.end());
    return pk::dict(entries);
  };
  TorchSnapshot snapshot = read_ok(pk::dict(
      {entry("segments", pk::list({})),
       entry("device_traces",
             pk::list({pk::list({}),
                       pk::list({event("alloc"), event("free_requested"), event("mystery"),
                                 event("oom", {entry("device_free", pk::integer(1024)), entry("time_us", pk::integer(5))}),
                                 event("alloc")})}))}));
  REQUIRE(snapshot.device_traces.size() == 2);
  CHECK(snapshot.device_traces[1][2].action == TorchTraceAction::Other);
  CHECK(snapshot.device_traces[1][2].other_action == "mystery");

  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(snapshot);
  REQUIRE(analysis.devices.size() == 1);  // device 0 has neither segments nor events
  const TorchDeviceMemory& d = analysis.devices[0];
  CHECK(d.device == 1);
  CHECK(d.reserved_bytes == 0);
  CHECK_FALSE(d.fragmentation.has_value());
  CHECK(d.trace_events == 5);
  REQUIRE(d.trace_actions.size() == 4);
  CHECK(d.trace_actions[0].action == "alloc");
  CHECK(d.trace_actions[0].count == 2);
  CHECK(d.trace_actions[1].action == "free_requested");
  CHECK(d.trace_actions[2].action == "oom");
  CHECK(d.trace_actions[3].action == "mystery");
  REQUIRE(d.last_oom.has_value());
  CHECK(d.last_oom->requested_bytes == 4096);
  CHECK(d.last_oom->device_free_bytes == 1024);
  CHECK(d.last_oom->time_us == 5);
}

TEST_CASE("a frame list shared through the memo is read once", "[snapshot]") {
  std::string frames = pk::remember(pk::list({frame("/app/a.py", 1, "f"), frame("/app/b.py", 2, "g")}), 9);
  TorchSnapshot snapshot = read_ok(snapshot_of({segment(
      0, 0x200,
      {block(0x100, "active_allocated", {entry("address", pk::integer(0)), entry("frames", frames)}),
       block(0x100, "active_allocated", {entry("address", pk::integer(0x100)), entry("frames", pk::recall(9))})})}));
  const std::vector<TorchBlock>& blocks = snapshot.segments.at(0).blocks;
  CHECK(blocks[0].stack != kNoTorchStack);
  CHECK(blocks[0].stack == blocks[1].stack);
  CHECK(snapshot.stacks.size() == 2);  // the empty stack and this one
  CHECK(snapshot.frames.size() == 2);
}

TEST_CASE("wrong types and missing keys are errors that say where", "[snapshot]") {
  const std::string prefix = "not a PyTorch memory snapshot this oomtrace reads: ";
  CHECK(read_error(snapshot_of({segment(0, 0x100, {block(0x80, "inactive"),
                                                   pk::dict({entry("size", pk::text("big")),
                                                             entry("state", pk::text("inactive"))})})})) ==
        prefix + "segments[0].blocks[1].size: expected int, found str");
  CHECK(read_error(snapshot_of({segment(0, 0x100, {block(0x100, "weird")})})) ==
        prefix + "segments[0].blocks[0].state: \"weird\" is not a block state PyTorch writes");
  CHECK(read_error(snapshot_of({segment(0, 0x100, {block(0x100, "two\nlines")})})) ==
        prefix + "segments[0].blocks[0].state: \"two?lines\" is not a block state PyTorch writes");
  CHECK(read_error(snapshot_of({pk::dict({entry("address", pk::integer(0)), entry("blocks", pk::list({}))})})) ==
        prefix + "segments[0]: no \"total_size\"");
  CHECK(read_error(snapshot_of({segment(0, 0x100, {block(0x100, "inactive")},
                                        {entry("segment_type", pk::text("huge"))})})) ==
        prefix + "segments[0].segment_type: \"huge\" is not small or large");
  CHECK(read_error(snapshot_of({segment(0, 0x100, {block(static_cast<uint64_t>(-5), "inactive")})})) ==
        prefix + "segments[0].blocks[0].size: is negative (-5)");
  CHECK(read_error(pk::dict({entry("device_traces", pk::list({}))})) ==
        prefix + "the snapshot: no \"segments\": not a PyTorch memory snapshot");
  CHECK(read_error(pk::integer(3)) == prefix + "the snapshot: expected dict, found int");
  CHECK(read_error(pk::dict({entry("segments", pk::list({})), entry("device_traces", pk::list({pk::list({pk::dict({})})}))})) ==
        prefix + "device_traces[0][0]: no \"action\"");
}

TEST_CASE("allocation sites name the program's own frame", "[snapshot][frames]") {
  TorchSnapshot snapshot;
  snapshot.frames = {{"??", 0, "torch::unwind::unwind()"},
                     {"/venv/lib/python3.11/site-packages/torch/nn/modules/module.py", 1500, "_call_impl"},
                     {"/home/me/model.py", 20, "forward"},
                     {"", 0, "at::_ops::bmm::call(at::Tensor const&, at::Tensor const&)"},
                     {"/venv/lib/python3.11/site-packages/einops/_backends.py", 288, "einsum"},
                     {"<frozen runpy>", 88, "_run_code"}};
  snapshot.stacks = {{}, {0, 1, 2}, {0, 3}, {0, 4, 5}, {0}};
  CHECK(allocation_site(snapshot, 0) == kNoStackSite);
  CHECK(allocation_site(snapshot, 1) == "/home/me/model.py:20 in forward");
  CHECK(allocation_site(snapshot, 2) == "C++ at::_ops::bmm");
  CHECK(allocation_site(snapshot, 3) == "/venv/lib/python3.11/site-packages/einops/_backends.py:288 in einsum");
  CHECK(allocation_site(snapshot, 4) == kNoPythonFrameSite);
  CHECK(python_stack(snapshot, 1, 16) ==
        std::vector<std::string>{"/venv/lib/python3.11/site-packages/torch/nn/modules/module.py:1500 in _call_impl",
                                 "/home/me/model.py:20 in forward"});
  CHECK(python_stack(snapshot, 1, 1).size() == 1);
  CHECK(is_library_frame(snapshot.frames[5]));
  CHECK_FALSE(is_python_frame(snapshot.frames[0]));
}
