#include "report/analysis.h"

#include <cctype>
#include <filesystem>
#include <set>

#include "report/allocator_settings.h"
#include "report/replay.h"
#include "report/stack_text.h"
#include "report/verdict.h"

namespace oomtrace::report {
namespace {

const char kKilledDescription[] =
    "the process ended without closing the trace (killed, e.g. SIGKILL or the kernel's OOM killer); "
    "figures are up to its last recorded event";

std::string absolute_path(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

std::string as_sentence(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text + ".";
}

ProcessSummary summarize_process(const trace::Trace& trace) {
  ProcessSummary summary;
  if (!trace.process) return summary;
  summary.pid = trace.process->pid;
  summary.host = trace.process->host;
  summary.executable = trace.process->executable;
  summary.argv = trace.process->argv;
  return summary;
}

// The device's capacity: the trace's device record, else what the driver
// reported at one of the failures.
std::optional<uint64_t> device_total(const trace::Trace& trace, int index) {
  auto info = trace.devices.find(index);
  if (info != trace.devices.end() && info->second.total_bytes > 0) return info->second.total_bytes;
  for (const trace::RecordedFailure& failure : trace.failures) {
    const trace::FailureContext& context = failure.context;
    if (context.event.device == index && context.device_info_known && context.device_total_bytes > 0) {
      return context.device_total_bytes;
    }
  }
  return std::nullopt;
}

std::optional<std::string> device_name(const trace::Trace& trace, int index) {
  auto info = trace.devices.find(index);
  if (info == trace.devices.end() || info->second.name.empty()) return std::nullopt;
  return info->second.name;
}

std::vector<DeviceSummary> summarize_devices(const trace::Trace& trace, const ProcessMemory& memory) {
  std::set<int> indices;
  for (const auto& [index, info] : trace.devices) indices.insert(index);
  for (int index : memory.devices()) indices.insert(index);
  std::vector<DeviceSummary> devices;
  for (int index : indices) {
    if (index == kHostDevice) continue;
    DeviceSummary device;
    device.index = index;
    device.name = device_name(trace, index);
    device.total_bytes = device_total(trace, index);
    device.peak_reserved_bytes = memory.device(index).peak_reserved_bytes;
    devices.push_back(std::move(device));
  }
  return devices;
}

Totals summarize_totals(const ProcessMemory& memory) {
  const oomtrace::Totals& totals = memory.totals();
  return Totals{totals.allocations, totals.frees, totals.failed_allocations, totals.unmatched_frees};
}

std::vector<OtherProcess> other_processes(const trace::FailureContext& context,
                                          const ProcessSummary& process) {
  std::vector<OtherProcess> others;
  for (const trace::ProcessUsage& usage : context.processes) {
    if (process.pid && usage.pid == *process.pid) continue;
    others.push_back({usage.pid, usage.used_bytes});
  }
  return others;
}

// total - free - reserved, at least 0, without wrapping on odd figures.
uint64_t memory_outside(uint64_t total, uint64_t free, uint64_t reserved) {
  uint64_t used = total > free ? total - free : 0;
  return used > reserved ? used - reserved : 0;
}

FailureReport summarize_failure(const trace::Trace& trace, const trace::RecordedFailure& recorded,
                                const FailureSnapshot& snapshot, const ProcessSummary& process) {
  const trace::FailureContext& context = recorded.context;
  const Event& event = context.event;
  FailureReport failure;
  failure.api = event.api;
  failure.device = event.device;
  failure.device_name = device_name(trace, event.device);
  failure.requested_bytes = event.size;
  failure.time_ns = event.time_ns;
  failure.thread = event.thread;
  failure.stack = describe_stack(trace, event.stack_id);

  // The live process measured the same thing the model rebuilt; its figure
  // also covers memory the model may have missed.
  failure.process_reserved_bytes =
      context.process_reserved_bytes > 0 ? context.process_reserved_bytes : snapshot.reserved_bytes;
  failure.process_segments = context.process_segments > 0 ? context.process_segments : snapshot.segments;
  failure.recovered = snapshot.recovered;
  failure.released_after_bytes = snapshot.released_after_bytes;

  if (context.device_info_known && context.device_total_bytes > 0) {
    failure.device_total_bytes = context.device_total_bytes;
    failure.device_free_bytes = context.device_free_bytes;
    failure.other_bytes = memory_outside(context.device_total_bytes, context.device_free_bytes,
                                         failure.process_reserved_bytes);
  } else {
    failure.device_total_bytes = device_total(trace, event.device);
  }
  failure.nvml_known = context.nvml_known;
  failure.other_processes = other_processes(context, process);
  return failure;
}

std::vector<LiveOnDevice> summarize_live(const trace::Trace& trace, const ProcessMemory& memory) {
  std::vector<LiveOnDevice> live;
  for (int device : memory.devices()) {
    if (device == kHostDevice) continue;
    LiveOnDevice entry;
    entry.device = device;
    entry.bytes = memory.device(device).reserved_bytes;
    std::vector<LiveAllocation> allocations = memory.live_on_device(device);
    entry.count = allocations.size();
    for (size_t i = 0; i < allocations.size() && i < kTopLive; ++i) {
      const LiveAllocation& allocation = allocations[i];
      entry.top.push_back({allocation.api, allocation.address, allocation.size, allocation.time_ns,
                           allocation.thread, describe_stack(trace, allocation.stack_id)});
    }
    live.push_back(std::move(entry));
  }
  return live;
}

TraceSummary summarize_trace(const trace::Trace& trace) {
  TraceSummary summary;
  summary.path = absolute_path(trace.path);
  summary.complete = trace.trailer.has_value();
  summary.events = trace.events.size();
  summary.format_version = std::to_string(trace.format_major) + "." + std::to_string(trace.format_minor);
  if (trace.trailer) {
    summary.exit_reason = trace.trailer->exit_reason;
    summary.description = "the trace is complete; the process ended with: " +
                          (trace.trailer->exit_reason.empty() ? std::string("unknown") : trace.trailer->exit_reason);
  } else {
    summary.description = kKilledDescription;
  }
  return summary;
}

std::vector<std::string> collect_notes(const trace::Trace& trace, const Report& report) {
  std::vector<std::string> notes = trace.notes;
  if (!trace.trailer) notes.push_back(as_sentence(kKilledDescription));
  if (!trace.process) notes.push_back("The trace has no process record: the process is unknown.");
  if (report.totals.unmatched_frees > 0) {
    notes.push_back(std::to_string(report.totals.unmatched_frees) +
                    " frees released memory allocated before tracing began; they were not counted.");
  }
  if (!report.failures.empty()) {
    notes.push_back("process_allocated_bytes is null: at the driver level the framework's "
                    "sub-allocations inside its segments are not visible.");
  }
  return notes;
}

}  // namespace

Report analyze(const trace::Trace& trace) {
  Replay replayed = replay(trace);
  Report report;
  report.process = summarize_process(trace);
  report.devices = summarize_devices(trace, replayed.memory);
  report.totals = summarize_totals(replayed.memory);
  report.host_pinned = {replayed.memory.peak_host_pinned_bytes(), replayed.memory.host_pinned_bytes()};
  for (const trace::Setting& setting : trace.settings) report.settings.push_back({setting.key, setting.value});

  AllocatorSettings allocator_settings = read_allocator_settings(report.settings);
  for (size_t i = 0; i < trace.failures.size(); ++i) {
    FailureReport failure = summarize_failure(trace, trace.failures[i], replayed.failures[i], report.process);
    judge(failure, allocator_settings);
    report.failures.push_back(std::move(failure));
  }
  report.live_at_end = summarize_live(trace, replayed.memory);
  report.trace = summarize_trace(trace);
  report.notes = collect_notes(trace, report);
  return report;
}

}  // namespace oomtrace::report
