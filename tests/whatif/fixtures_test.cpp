// The real PyTorch snapshots in tests/fixtures/torch-snapshots, replayed
// with the settings they were recorded under: the model must put every
// allocation where PyTorch put it and make every device allocation PyTorch
// made, same size, same order -- and end in the state the snapshot shows.
#include <algorithm>
#include <set>
#include <tuple>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "allocator/caching_allocator/initial_state.h"
#include "allocator/caching_allocator/replayer.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "report/whatif/whatif.h"
#include "report/render/whatif_render.h"

using namespace oomtrace;

namespace {

std::string fixture(const std::string& name) { return std::string(OOMTRACE_TORCH_SNAPSHOTS) + "/" + name; }

report::TorchSnapshot load(const std::string& name) {
  report::TorchSnapshotResult loaded = report::load_torch_snapshot(fixture(name));
  INFO(loaded.error);
  REQUIRE(loaded.snapshot);
  return std::move(*loaded.snapshot);
}

report::WhatIfInput input_of(const report::TorchSnapshot& snapshot) {
  report::WhatIfInputResult input = report::whatif_input_from_snapshot(snapshot, std::nullopt);
  INFO(input.error);
  REQUIRE(input.input);
  return std::move(*input.input);
}

caching::ReplayOptions reproducing(const caching::Recording& recording) {
  return caching::ReplayOptions{recording.config, caching::SimulatedDevice::kUnlimited, true, false};
}

using Layout = std::set<std::tuple<uint64_t, uint64_t, bool>>;  // address, size, handed out

// Segments and handed-out blocks of the model, as a snapshot lists them.
Layout model_layout(const caching::CachingAllocator& model) {
  Layout layout;
  for (const caching::SegmentView& segment : model.segments()) {
    layout.insert({segment.address, segment.size, false});
    for (const caching::BlockView& block : segment.blocks) {
      if (block.allocated) layout.insert({block.address, block.size, true});
    }
  }
  return layout;
}

Layout snapshot_layout(const caching::Recording& recording) {
  Layout layout;
  for (const caching::RecordedSegment& segment : *recording.final_segments) {
    layout.insert({segment.address, segment.size, false});
    for (const caching::RecordedBlock& block : segment.blocks) {
      if (block.active) layout.insert({block.address, block.size, true});
    }
  }
  return layout;
}

struct Expected {
  const char* name;
  uint64_t allocations;
  uint64_t segment_allocs;
  uint64_t peak_reserved_bytes;
};

}  // namespace

TEST_CASE("every fixture with a trace is reproduced exactly under its recorded settings") {
  const Expected fixtures[] = {
      {"eor_nn_snapshot.pickle", 1935, 7, 134217728},
      {"cs336_memory_ctx128_forward_mixed.pickle", 2703, 461, 24245174272},
      {"cs336_memory_ctx128_fullstep.pickle", 6771, 783, 61111009280},
  };
  for (const Expected& expected : fixtures) {
    report::TorchSnapshot snapshot = load(expected.name);
    report::WhatIfInput input = input_of(snapshot);
    caching::InitialState initial = caching::reconstruct_initial_state(input.recording);
    caching::Replayer replayer(input.recording, initial, reproducing(input.recording));
    caching::ReplayResult result = replayer.run();
    const caching::Fidelity& fidelity = result.fidelity;
    WARN(expected.name << ": " << fidelity.allocations_same_address << "/" << fidelity.allocations_recorded
                       << " allocations at the recorded address, " << fidelity.segment_allocs_reproduced << "/"
                       << fidelity.segment_allocs_recorded << " segment_alloc reproduced, peak reserved "
                       << result.recorded_peak_reserved_bytes << " recorded / " << result.peak_reserved_bytes
                       << " modelled");
    INFO(expected.name);
    CHECK(fidelity.allocations_recorded == expected.allocations);
    CHECK(fidelity.allocations_same_address == expected.allocations);
    CHECK(fidelity.segment_allocs_recorded == expected.segment_allocs);
    CHECK(fidelity.segment_allocs_reproduced == expected.segment_allocs);
    CHECK(fidelity.share() == 1.0);
    CHECK(result.recorded_peak_reserved_bytes == expected.peak_reserved_bytes);
    CHECK(result.peak_reserved_bytes == expected.peak_reserved_bytes);
    CHECK(result.initial_segments_refused == 0);
    CHECK(initial.blocks_outside_segments == 0);
    CHECK(model_layout(replayer.model()) == snapshot_layout(input.recording));
  }
}

TEST_CASE("the settings a snapshot records are read") {
  report::WhatIfInput recorded = input_of(load("cs336_memory_ctx128_forward_mixed.pickle"));
  CHECK(recorded.recording.config == caching::AllocatorConfig{});
  CHECK(recorded.settings_origin == "the snapshot's allocator_settings");
  report::WhatIfInput unrecorded = input_of(load("eor_nn_snapshot.pickle"));
  CHECK(unrecorded.settings_origin == "not in the snapshot: PyTorch's defaults assumed");
  std::string error;
  std::vector<report::TorchSetting> settings = {
      {"PYTORCH_CUDA_ALLOC_CONF", "\"roundup_power2_divisions:2\""},
      {"max_split_size", "268435456"},
      {"expandable_segments", "false"},
      {"garbage_collection_threshold", "0.5"},
      {"roundup_power2_divisions", "{\"1\": 0, \"2\": 4, \"32768\": 8}"}};
  std::optional<caching::AllocatorConfig> config = report::snapshot_allocator_config(settings, error);
  REQUIRE(config);
  CHECK(config->max_split_size == 256 * caching::kMiB);
  CHECK(config->garbage_collection_threshold == Approx(0.5));
  CHECK(config->roundup_power2_divisions[0] == 0);
  CHECK(config->roundup_power2_divisions[1] == 4);
  CHECK(config->roundup_power2_divisions[2] == 2);  // from the string
  CHECK(config->roundup_power2_divisions[15] == 8);
}

TEST_CASE("a snapshot without history cannot be replayed, and says why") {
  report::WhatIfResult result = report::analyze_whatif(load("yiyi_oom_snapshot.pickle"), {});
  CHECK_FALSE(result.analysis);
  CHECK_THAT(result.error, Catch::Contains("no allocations to replay"));
}

TEST_CASE("a sweep of the largest fixture ranks the settings and recommends one") {
  report::WhatIfOptions options;
  options.sweep = true;
  report::WhatIfResult result = report::analyze_whatif(load("cs336_memory_ctx128_fullstep.pickle"), options);
  REQUIRE(result.analysis);
  const report::WhatIfAnalysis& analysis = *result.analysis;
  CHECK(analysis.fidelity.counts.share() == 1.0);
  CHECK(analysis.capacity_bytes == 61111009280);  // no device size in a snapshot: the recorded peak
  CHECK(analysis.rows.size() >= 10);
  CHECK(analysis.rows.front().recorded);
  CHECK(analysis.rows.front().peak_reserved_bytes == 61111009280);
  CHECK_FALSE(analysis.rows.front().oom_at_event);
  const report::WhatIfRow* best = analysis.recommendation();
  REQUIRE(best);
  // Regression figures of the model: expandable segments need about 5 GiB less.
  CHECK(best->settings == "expandable_segments:True");
  CHECK(best->peak_reserved_bytes == 55641636864);
  for (size_t i = 1; i < analysis.ranking.size(); ++i) {
    const report::WhatIfRow& before = analysis.rows[analysis.ranking[i - 1]];
    const report::WhatIfRow& after = analysis.rows[analysis.ranking[i]];
    if (!before.oom_at_event && !after.oom_at_event) CHECK(before.peak_reserved_bytes <= after.peak_reserved_bytes);
  }

  std::string text = report::render_whatif_text(analysis, "fullstep.pickle");
  CHECK_THAT(text, Catch::Contains("peak reserved  peak allocated  frag. at peak  device allocs  OOM at this capacity"));
  CHECK_THAT(text, Catch::Contains("6771 of 6771 allocations at the recorded address (100.0%)"));
  CHECK_THAT(text, Catch::Contains("Ranked"));
  CHECK_THAT(text, Catch::Contains("Recommendation: PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"));

  nlohmann::json json = nlohmann::json::parse(report::render_whatif_json(analysis, "fullstep.pickle"));
  CHECK(json["schema"] == "oomtrace-whatif/1");
  CHECK(json["fidelity"]["allocations_recorded"] == 6771);
  CHECK(json["fidelity"]["segment_allocs_reproduced"] == 783);
  CHECK(json["fidelity"]["share"] == 1.0);
  CHECK(json["rows"].size() == analysis.rows.size());
  CHECK(json["rows"][0]["oom"] == false);
  CHECK(json["rows"][0]["oom_at_event"].is_null());
  CHECK(json["recommendation"]["predicted_peak_reserved_bytes"] == 55641636864);
}

TEST_CASE("best_setting answers the failure report's question in one call") {
  report::TorchSnapshot snapshot = load("cs336_memory_ctx128_fullstep.pickle");
  std::optional<report::BestSetting> best = report::best_setting(snapshot, std::nullopt);
  REQUIRE(best);
  CHECK(best->settings == "expandable_segments:True");
  CHECK(best->predicted_peak_reserved_bytes == 55641636864);
  // On a device too small for any setting there is no answer.
  CHECK_FALSE(report::best_setting(snapshot, uint64_t{16} << 30));
}
