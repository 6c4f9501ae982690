// The failure report weighs its allocator suggestions by the replay when a
// PyTorch snapshot with history is attached to the failure: the largest
// real fixture (51.3 GiB of tensors at its peak) failing on GPUs of several
// sizes. The recommendation itself, end to end, is tested in
// tests/scenarios/scenario_fragmentation_tests.cpp (growing sequence).
#include <catch2/catch.hpp>

#include "report/verdicts/replay_finding.h"
#include "report/snapshot/snapshot_analysis.h"
#include "report/snapshot/torch_snapshot_file.h"

using namespace oomtrace;
using namespace oomtrace::report;

namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

Report report_with_attached_fixture(Verdict verdict) {
  TorchSnapshotResult loaded =
      load_torch_snapshot(std::string(OOMTRACE_TORCH_SNAPSHOTS) + "/cs336_memory_ctx128_fullstep.pickle");
  INFO(loaded.error);
  REQUIRE(loaded.snapshot);
  Report report;
  FailureReport failure;
  failure.device = 0;
  failure.requested_bytes = 2 * kGiB;
  failure.device_total_bytes = 56 * kGiB;
  failure.other_bytes = 2 * kGiB;  // the process could have had 54 GiB
  failure.verdict = verdict;
  failure.suggestions = {{"PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:1024", "a rule of thumb"},
                         {"torch.cuda.empty_cache()", "something else"}};
  report.failures.push_back(failure);
  TorchSnapshotAnalysis analysis = analyze_torch_snapshot(*loaded.snapshot);
  report.pytorch.push_back({"fullstep.pickle", 0, {0}, std::move(analysis),
                            std::make_shared<const TorchSnapshot>(std::move(*loaded.snapshot))});
  return report;
}

}  // namespace

TEST_CASE("an attached snapshot's replay: when no setting fits, the guessed one is withdrawn") {
  // 40 GiB for the process: the step's tensors alone peak at 51.3 GiB.
  Report report = report_with_attached_fixture(Verdict::Fragmentation);
  report.failures[0].other_bytes = 16 * kGiB;
  add_replay_findings(trace::Trace{}, AllocatorSettings{}, report);
  FailureReport& failure = report.failures[0];
  REQUIRE(failure.replay);
  const ReplayFinding& finding = *failure.replay;
  CHECK(finding.input_kind == "pytorch-snapshot");
  CHECK(finding.input_path == "fullstep.pickle");
  CHECK(finding.capacity_bytes == 40 * kGiB);
  CHECK(finding.capacity_source == "the GPU's total less what others held at the failure");
  CHECK(finding.recorded_settings == "defaults");
  CHECK(finding.recorded_oom_at_event.has_value());
  CHECK(finding.fidelity == 1.0);
  CHECK_FALSE(finding.recommended_settings);

  apply_replay_finding(failure, AllocatorSettings{});
  REQUIRE(failure.suggestions.size() == 1);
  CHECK(failure.suggestions[0].setting == "torch.cuda.empty_cache()");
  CHECK_THAT(failure.explanation, Catch::Contains("no allocator setting tried avoids the failure"));
}

TEST_CASE("a request larger than the GPU is not the allocator's policy: no replay") {
  Report report = report_with_attached_fixture(Verdict::ExceedsCapacity);
  add_replay_findings(trace::Trace{}, AllocatorSettings{}, report);
  CHECK_FALSE(report.failures[0].replay);
}

TEST_CASE("when the replay fits under the recorded settings, the suggestions stay as they were") {
  Report report = report_with_attached_fixture(Verdict::Exhausted);
  report.failures[0].device_total_bytes = 80 * kGiB;
  add_replay_findings(trace::Trace{}, AllocatorSettings{}, report);
  FailureReport& failure = report.failures[0];
  REQUIRE(failure.replay);
  CHECK_FALSE(failure.replay->recorded_oom_at_event);
  apply_replay_finding(failure, AllocatorSettings{});
  CHECK(failure.suggestions.size() == 2);
  CHECK(failure.suggestions[0].setting == "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:1024");
  CHECK_THAT(failure.explanation, Catch::Contains("does not fail under the recorded settings"));
}
