#include "report/verdicts/replay_finding.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "report/common/format_bytes.h"
#include "report/verdicts/suggestions.h"
#include "report/whatif/whatif.h"
#include "report/whatif/whatif_inputs.h"

namespace oomtrace::report {
namespace {

bool speaks_to(const FailureReport& failure) {
  if (!failure.verdict) return false;
  switch (*failure.verdict) {
    case Verdict::Fragmentation:
    case Verdict::Exhausted:
    case Verdict::OtherProcesses:
      return true;
    case Verdict::ExceedsCapacity:
    case Verdict::Limit:
      return false;
  }
  return false;
}

// The memory the process could have had: a cap below the device when one
// is known, else the device less what others held at the failure; else
// nullopt, and the replay works it out from the input (docs/whatif.md).
struct Capacity {
  std::optional<uint64_t> bytes;
  std::string source;
};

Capacity capacity_for(const FailureReport& failure) {
  if (failure.cap && failure.device_total_bytes && failure.cap->bytes < *failure.device_total_bytes) {
    return {failure.cap->bytes, "the cap in force at the failure"};
  }
  if (failure.device_total_bytes && failure.other_bytes && *failure.other_bytes > 0 &&
      *failure.other_bytes < *failure.device_total_bytes) {
    return {*failure.device_total_bytes - *failure.other_bytes,
            "the GPU's total less what others held at the failure"};
  }
  if (failure.device_total_bytes) return {failure.device_total_bytes, "the GPU's total"};
  return {std::nullopt, ""};
}

// The snapshot the trace attached for this failure, when it holds the
// allocation history of the failure's device.
const PytorchSnapshotReport* snapshot_for(const Report& report, size_t failure_index) {
  for (const PytorchSnapshotReport& snapshot : report.pytorch) {
    if (!snapshot.snapshot) continue;
    if (std::find(snapshot.failures.begin(), snapshot.failures.end(), failure_index) != snapshot.failures.end()) {
      return &snapshot;
    }
  }
  return nullptr;
}

std::optional<ReplayFinding> finding_from(const WhatIfResult& result, const std::string& path) {
  if (!result.analysis || result.analysis->rows.empty()) return std::nullopt;
  const WhatIfAnalysis& analysis = *result.analysis;
  ReplayFinding finding;
  finding.input_kind = analysis.input_kind;
  finding.input_path = path;
  finding.events = analysis.events;
  finding.capacity_bytes = analysis.capacity_bytes;
  finding.capacity_source = analysis.capacity_source;
  finding.recorded_settings = analysis.rows.front().settings;
  finding.recorded_oom_at_event = analysis.rows.front().oom_at_event;
  finding.fidelity = analysis.fidelity.counts.share();
  if (const WhatIfRow* best = analysis.recommendation()) {
    finding.recommended_settings = best->settings;
    finding.predicted_peak_reserved_bytes = best->peak_reserved_bytes;
    finding.recorded_is_best = best->recorded;
  }
  return finding;
}

// One replay per input, device and capacity, however many failures share them.
class ReplayCache {
 public:
  std::optional<ReplayFinding> get(const void* input, int device, std::optional<uint64_t> capacity,
                                   const std::function<std::optional<ReplayFinding>()>& compute) {
    Key key{input, device, capacity.value_or(0), capacity.has_value()};
    auto it = findings_.find(key);
    if (it == findings_.end()) it = findings_.emplace(key, compute()).first;
    return it->second;
  }

 private:
  using Key = std::tuple<const void*, int, uint64_t, bool>;
  std::map<Key, std::optional<ReplayFinding>> findings_;
};

// The sweep replays the recording a dozen times, at the exit of the traced
// program when the library writes the report: past this many events the
// report leaves it to `oomtrace whatif`.
constexpr size_t kMaxEventsReplayedInReport = 1'000'000;

std::optional<ReplayFinding> replay_input(const WhatIfInputResult& input, const Capacity& capacity, int device,
                                          const std::string& path) {
  if (!input.input || input.input->recording.events.size() > kMaxEventsReplayedInReport) return std::nullopt;
  std::optional<ReplayFinding> finding =
      finding_from(analyze_whatif(*input.input, sweep_options(capacity.bytes, device)), path);
  // Without a capacity of ours the replay chose one and said why.
  if (finding && capacity.bytes) finding->capacity_source = capacity.source;
  return finding;
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", share * 100);
  return text;
}

bool sets_allocator_conf(const Suggestion& suggestion, const AllocatorSettings& settings) {
  return suggestion.setting.rfind(settings.conf_key + "=", 0) == 0;
}

std::string replayed(const ReplayFinding& finding) {
  return "replaying the " + std::to_string(finding.events) + " recorded events of this GPU (" +
         (finding.input_kind == "pytorch-snapshot" ? "the PyTorch snapshot's history" : "the trace's blocks") +
         ") through oomtrace's model of PyTorch's caching allocator at " + format_bytes(finding.capacity_bytes) +
         " (" + finding.capacity_source + ")";
}

}  // namespace

void add_replay_findings(const trace::Trace& trace, const AllocatorSettings& settings, Report& report) {
  ReplayCache cache;
  for (size_t i = 0; i < report.failures.size(); ++i) {
    FailureReport& failure = report.failures[i];
    if (!speaks_to(failure)) continue;
    Capacity capacity = capacity_for(failure);
    if (const PytorchSnapshotReport* snapshot = snapshot_for(report, i)) {
      failure.replay = cache.get(snapshot, failure.device, capacity.bytes, [&] {
        return replay_input(whatif_input_from_snapshot(*snapshot->snapshot, failure.device), capacity,
                            failure.device, snapshot->path);
      });
    } else if (!failure.from_message && framework_family(failure, settings) == "pytorch") {
      // The exception's figures come from its message; without a snapshot
      // of its own it is replayed through the CUDA failures it follows.
      failure.replay = cache.get(&trace, failure.device, capacity.bytes, [&] {
        return replay_input(whatif_input_from_trace(trace, failure.device), capacity, failure.device, trace.path);
      });
    }
  }
}

void apply_replay_finding(FailureReport& failure, const AllocatorSettings& settings) {
  if (!failure.replay) return;
  const ReplayFinding& finding = *failure.replay;
  if (!finding.recorded_oom_at_event) {
    failure.explanation += " The replay does not fail under the recorded settings (" + finding.recorded_settings +
                           "; " + percent(finding.fidelity) +
                           " of recorded placements reproduced), so it cannot rank settings for this failure.";
    return;
  }
  auto guessed = std::remove_if(failure.suggestions.begin(), failure.suggestions.end(),
                                [&](const Suggestion& s) { return sets_allocator_conf(s, settings); });
  failure.suggestions.erase(guessed, failure.suggestions.end());
  if (!finding.recommended_settings) {
    std::string sentence = replayed(finding);
    sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
    failure.explanation += " " + sentence +
                           ", no allocator setting tried avoids the failure: the memory the step needs must shrink.";
    return;
  }
  std::string reason = replayed(finding) + ": with the recorded settings (" + finding.recorded_settings +
                       ") it runs out of memory too, as the run did; with this setting every request fits, "
                       "peaking at " +
                       format_bytes(*finding.predicted_peak_reserved_bytes) + " reserved (" +
                       percent(finding.fidelity) + " of recorded placements reproduced; `oomtrace whatif " +
                       finding.input_path + " --sweep` shows every setting tried)";
  failure.suggestions.insert(failure.suggestions.begin(),
                             Suggestion{settings.conf_key + "=" + *finding.recommended_settings, reason});
}

}  // namespace oomtrace::report
