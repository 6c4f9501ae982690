// Real PyTorch snapshots (tests/fixtures/torch-snapshots, see SOURCES.md):
// the analysis must match what each snapshot shows, to the byte. The
// figures below were computed independently with Python's pickle module
// from the same files.
#include <catch2/catch.hpp>

#include <iterator>

#include "report/snapshot/snapshot_analysis.h"
#include "report/snapshot/torch_snapshot.h"
#include "test_files.h"

using namespace oomtrace::report;
using namespace oomtrace::test;

namespace {

struct Expected {
  const char* file;
  TorchSnapshotFormat format;
  uint64_t segments, large_segments, small_segments;
  uint64_t reserved, allocated, requested, cached_free, largest_free;
  uint64_t allocated_blocks, inactive_blocks;
  // fragmentation = (cached_free - largest_free) / cached_free
  uint64_t trace_events;
  std::vector<std::pair<std::string, uint64_t>> actions;
  size_t settings, annotations;
};

const Expected kFixtures[] = {
    {"yiyi_oom_snapshot.pickle", TorchSnapshotFormat::Legacy, 176, 174, 2,
     11844714496, 11840159744, 11840159744, 4554752, 2080768, 460, 3,
     1, {{"snapshot", 1}}, 0, 0},
    {"eor_nn_snapshot.pickle", TorchSnapshotFormat::Current, 10, 6, 4,
     134217728, 48760832, 48748928, 85456896, 20971520, 40, 14,
     5803, {{"alloc", 1935}, {"free_requested", 1926}, {"free_completed", 1926}, {"segment_alloc", 7}, {"snapshot", 9}},
     0, 0},
    {"cs336_memory_ctx128_forward_mixed.pickle", TorchSnapshotFormat::Current, 688, 678, 10,
     24245174272, 24018738176, 23868070912, 226436096, 10731520, 1613, 145,
     5992, {{"alloc", 2703}, {"free_requested", 1414}, {"free_completed", 1414}, {"segment_alloc", 461}},
     8, 0},
    {"cs336_memory_ctx128_fullstep.pickle", TorchSnapshotFormat::Current, 1010, 1000, 10,
     61111009280, 54873829888, 54597857284, 6237179392, 104857600, 1201, 324,
     19342, {{"alloc", 6771}, {"free_requested", 5894}, {"free_completed", 5894}, {"segment_alloc", 783}},
     8, 4},
};

TorchSnapshotAnalysis analyze_fixture(const std::string& name, TorchSnapshot* keep = nullptr) {
  std::vector<uint8_t> bytes = read_file(fixture_path(name));
  TorchSnapshotResult result = parse_torch_snapshot(bytes.data(), bytes.size());
  INFO(result.error);
  REQUIRE(result.snapshot.has_value());
  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(*result.snapshot);
  if (keep != nullptr) *keep = std::move(*result.snapshot);
  return analysis;
}

}  // namespace

TEST_CASE("each real snapshot's figures, to the byte", "[snapshot][fixtures]") {
  for (const Expected& e : kFixtures) {
    DYNAMIC_SECTION(e.file) {
      TorchSnapshotAnalysis analysis = analyze_fixture(e.file);
      CHECK(analysis.format == e.format);
      CHECK(analysis.notes.empty());  // blocks and segments agree with each other
      CHECK(analysis.allocator_settings.size() == e.settings);
      CHECK(analysis.external_annotations == e.annotations);
      REQUIRE(analysis.devices.size() == 1);
      const TorchDeviceMemory& d = analysis.devices[0];
      CHECK(d.device == 0);
      CHECK(d.segments == e.segments);
      CHECK(d.large_segments == e.large_segments);
      CHECK(d.small_segments == e.small_segments);
      CHECK(d.expandable_segments == 0);
      CHECK(d.reserved_bytes == e.reserved);
      CHECK(d.allocated_bytes == e.allocated);
      CHECK(d.requested_bytes == e.requested);
      CHECK(d.pending_free_bytes == 0);
      CHECK(d.cached_free_bytes == e.cached_free);
      CHECK(d.cached_free_bytes == e.reserved - e.allocated);
      CHECK(d.largest_free_block_bytes == e.largest_free);
      REQUIRE(d.fragmentation.has_value());
      CHECK(*d.fragmentation == Approx(static_cast<double>(e.cached_free - e.largest_free) /
                                       static_cast<double>(e.cached_free))
                                    .epsilon(1e-12));
      CHECK(d.active_allocated.blocks == e.allocated_blocks);
      CHECK(d.active_allocated.bytes == e.allocated);
      CHECK(d.active_pending_free.blocks == 0);
      CHECK(d.inactive.blocks == e.inactive_blocks);
      CHECK(d.inactive.bytes == e.cached_free);  // nothing pending: every cached byte is a free block
      CHECK(d.trace_events == e.trace_events);
      REQUIRE(d.trace_actions.size() == e.actions.size());
      for (size_t i = 0; i < e.actions.size(); ++i) {
        CHECK(d.trace_actions[i].action == e.actions[i].first);
        CHECK(d.trace_actions[i].count == e.actions[i].second);
      }
    }
  }
}

TEST_CASE("fragmentation as exact ratios", "[snapshot][fixtures]") {
  // (cached_free - largest_free) / cached_free, reduced: 151/278, 31487/41727, ...
  CHECK(*analyze_fixture("yiyi_oom_snapshot.pickle").devices[0].fragmentation == Approx(151.0 / 278.0).epsilon(1e-15));
  CHECK(*analyze_fixture("eor_nn_snapshot.pickle").devices[0].fragmentation == Approx(31487.0 / 41727.0).epsilon(1e-15));
  CHECK(*analyze_fixture("cs336_memory_ctx128_forward_mixed.pickle").devices[0].fragmentation ==
        Approx(210649.0 / 221129.0).epsilon(1e-15));
  CHECK(*analyze_fixture("cs336_memory_ctx128_fullstep.pickle").devices[0].fragmentation ==
        Approx(11977191.0 / 12181991.0).epsilon(1e-15));
}

TEST_CASE("the legacy snapshot's block addresses come from walking each segment", "[snapshot][fixtures]") {
  TorchSnapshot snapshot;
  TorchSnapshotAnalysis analysis = analyze_fixture("yiyi_oom_snapshot.pickle", &snapshot);
  // A legacy block's history records the address it was handed out at
  // (Python finds the walk agrees with all 460); here, the two largest.
  const TorchSegment& first = snapshot.segments.at(0);
  CHECK(first.blocks.at(0).address == first.address);
  CHECK(first.address == 140037408686080);
  const TorchDeviceMemory& d = analysis.devices[0];
  REQUIRE(d.largest_blocks.size() == kTorchLargestBlocks);
  CHECK(d.largest_blocks[0].size == 411828224);
  CHECK(d.largest_blocks[0].address == 140048817192960);
  CHECK(d.largest_blocks[1].size == 134217728);
  CHECK(d.largest_blocks[1].address == 140037542903808);
  REQUIRE_FALSE(d.largest_blocks[0].python_stack.empty());
  CHECK(d.largest_blocks[0].python_stack[0] == "/home/dingyiran/FlexGen/flexgen/pytorch_backend.py:190 in allocate");
  REQUIRE(d.top_sites.size() == 1);
  CHECK(d.top_sites[0].site == "/home/dingyiran/FlexGen/flexgen/pytorch_backend.py:190 in allocate");
  CHECK(d.top_sites[0].bytes == 11840159744);
  CHECK(d.top_sites[0].blocks == 460);
}

TEST_CASE("free blocks by size, in power-of-two buckets", "[snapshot][fixtures]") {
  const TorchDeviceMemory d = analyze_fixture("eor_nn_snapshot.pickle").devices[0];
  struct Bucket {
    uint64_t min, max, blocks, bytes;
  };
  const Bucket expected[] = {{1024, 2048, 2, 2560},           {131072, 262144, 1, 252416},
                             {1048576, 2097152, 1, 1577984},  {2097152, 4194304, 3, 6291456},
                             {4194304, 8388608, 4, 22282240}, {8388608, 16777216, 1, 13107200},
                             {16777216, 33554432, 2, 41943040}};
  REQUIRE(d.free_block_histogram.size() == std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    CHECK(d.free_block_histogram[i].min_bytes == expected[i].min);
    CHECK(d.free_block_histogram[i].max_bytes == expected[i].max);
    CHECK(d.free_block_histogram[i].blocks == expected[i].blocks);
    CHECK(d.free_block_histogram[i].bytes == expected[i].bytes);
  }
}

TEST_CASE("live memory is grouped by the program's own allocation site", "[snapshot][fixtures]") {
  SECTION("eor_nn: two sites tie at 15 MiB, then blocks from before history was on") {
    const TorchDeviceMemory d = analyze_fixture("eor_nn_snapshot.pickle").devices[0];
    REQUIRE(d.top_sites.size() == 8);
    CHECK(d.top_sites[0].site == "/oscar/home/jsolt/FourierNN/counterfactuals.py:102 in generate_counterfactuals");
    CHECK(d.top_sites[0].bytes == 15728640);
    CHECK(d.top_sites[1].site == "/oscar/home/jsolt/FourierNN/counterfactuals.py:127 in generate_counterfactuals");
    CHECK(d.top_sites[2].site == "(no stack recorded)");
    CHECK(d.top_sites[2].bytes == 8781824);
    CHECK(d.top_sites[2].blocks == 31);
  }
  SECTION("forward_mixed: einops' frames are skipped for the model's own line") {
    const TorchDeviceMemory d = analyze_fixture("cs336_memory_ctx128_forward_mixed.pickle").devices[0];
    REQUIRE(d.top_sites.size() == kTorchTopSites);
    CHECK(d.top_sites[1].site == "/home/c-kaitwang/assignment1/cs336_basics/transformer.py:22 in forward");
    CHECK(d.top_sites[1].bytes == 7914749952);
    CHECK(d.top_sites[1].blocks == 452);
  }
  SECTION("fullstep: a C++-only stack (autograd's thread) is named by its operator") {
    const TorchDeviceMemory d = analyze_fixture("cs336_memory_ctx128_fullstep.pickle").devices[0];
    CHECK(d.top_sites[1].site == "C++ at::_ops::bmm");
    CHECK(d.top_sites[1].bytes == 13691944960);
    CHECK(d.top_sites[2].site == "/home/c-kaitwang/assignment1/cs336_basics/optimizers.py:82 in step");
    CHECK(d.top_sites[2].bytes == 13630744576);
    CHECK(d.largest_blocks[0].address == 139775046582272);
    CHECK(d.largest_blocks[0].site == "/home/c-kaitwang/assignment1/cs336_basics/optimizers.py:82 in step");
  }
}
