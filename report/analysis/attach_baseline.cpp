#include "report/analysis/attach_baseline.h"

#include "report/common/format_bytes.h"

namespace oomtrace::report {

std::optional<AttachSummary> summarize_attach(const trace::Trace& trace) {
  if (!trace.attach) return std::nullopt;
  const trace::AttachInfo& recorded = *trace.attach;
  AttachSummary attach;
  attach.unix_ns = recorded.unix_ns;
  if (recorded.outer_pid != 0) attach.outer_pid = recorded.outer_pid;
  for (const trace::AttachBaseline& baseline : recorded.devices) {
    AttachDevice device;
    device.device = baseline.device;
    uint64_t used = 0;
    if (baseline.memory_known && baseline.total_bytes >= baseline.free_bytes) {
      device.total_bytes = baseline.total_bytes;
      device.free_bytes = baseline.free_bytes;
      used = baseline.total_bytes - baseline.free_bytes;
      attach.baseline_device_used_bytes += used;
    }
    if (baseline.process_known) {
      device.process_bytes = baseline.process_used_bytes;
      attach.baseline_process_bytes = attach.baseline_process_bytes.value_or(0) + baseline.process_used_bytes;
    }
    device.held_bytes = device.process_bytes.value_or(used);
    attach.devices.push_back(device);
  }
  for (const trace::AttachPath& path : recorded.paths) {
    attach.paths.push_back({path.name, path.covered, path.detail});
  }
  return attach;
}

void add_baseline_to_failures(const AttachSummary& attach, std::vector<FailureReport>& failures) {
  for (FailureReport& failure : failures) {
    if (failure.from_message) continue;
    for (const AttachDevice& device : attach.devices) {
      if (device.device != failure.device || device.held_bytes == 0) continue;
      failure.held_before_attach_bytes = device.held_bytes;
      failure.process_reserved_bytes += device.held_bytes;
      if (failure.other_bytes && failure.device_total_bytes && failure.device_free_bytes) {
        failure.other_bytes = *failure.other_bytes > device.held_bytes
                                  ? *failure.other_bytes - device.held_bytes
                                  : 0;
      }
    }
  }
}

void explain_baseline(std::vector<FailureReport>& failures) {
  for (FailureReport& failure : failures) {
    if (failure.held_before_attach_bytes == 0) continue;
    failure.explanation += " " + format_bytes(failure.held_before_attach_bytes) +
                           " of what the process held was held before attach, origin unknown "
                           "(oomtrace attach joined the process mid-run).";
  }
}

}  // namespace oomtrace::report
