#include "report/render/snapshot_report.h"

#include "report/common/path_text.h"

namespace oomtrace::report {
namespace {

std::string absolute_path(const std::string& path) {
  return absolute_normal_path(path);
}

// The trace fields describe the input: complete (nothing was cut short), no
// events, no trace format.
TraceSummary describe_input(const std::string& path, TorchSnapshotFormat format) {
  TraceSummary input;
  input.path = absolute_path(path);
  input.complete = true;
  input.description = std::string("a PyTorch memory snapshot (") + torch_snapshot_format_name(format) +
                      " format), not an oomtrace trace";
  return input;
}

}  // namespace

Report report_from_torch_snapshot(const std::string& path, const TorchSnapshot& snapshot) {
  Report report;
  report.input = ReportInput::TorchSnapshot;
  report.trace = describe_input(path, snapshot.format);
  PytorchSnapshotReport section{report.trace.path, std::nullopt, {}, analyze_torch_snapshot(snapshot), nullptr};
  report.notes.push_back(
      "Read from a PyTorch memory snapshot alone: no CUDA call was traced, so there are no failures, "
      "verdicts or native stacks; the pytorch section has what the snapshot holds.");
  report.pytorch.push_back(std::move(section));
  return report;
}

}  // namespace oomtrace::report
