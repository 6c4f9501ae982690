#include "report/analysis/analysis.h"

#include "report/analysis/attach_baseline.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "report/verdicts/allocator_settings.h"
#include "report/analysis/attach_baseline.h"
#include "report/analysis/framework_failures.h"
#include "report/analysis/leak_detection.h"
#include "report/common/path_text.h"
#include "report/whatif/replay.h"
#include "report/analysis/stack_text.h"
#include "report/verdicts/replay_finding.h"
#include "report/verdicts/suggestions.h"
#include "report/analysis/torch_attachments.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report {
namespace {

const char kKilledDescription[] =
    "the process ended without closing the trace (killed, e.g. SIGKILL or the kernel's OOM killer); "
    "figures are up to its last recorded event";

std::string absolute_path(const std::string& path) {
  return absolute_normal_path(path);
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
  summary.rank = trace.process->rank;
  summary.local_rank = trace.process->local_rank;
  summary.world_size = trace.process->world_size;
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
  Totals summary{totals.allocations, totals.frees, totals.failed_allocations, totals.unmatched_frees};
  summary.unmatched_pool_calls = totals.unmatched_pool_calls;
  return summary;
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

// A stream-ordered failure read its pool's counters (trace format 1.1).
bool pool_figures_known(const trace::FailureContext& context) {
  return context.pool_known && api_is_stream_ordered(context.event.api) &&
         context.pool_reserved_bytes >= context.pool_used_bytes;
}

// What the process held once the pool's cache is counted: the model sees
// each live block of every pool, not the memory a pool keeps for reuse.
// Live blocks beyond the pool's used bytes came from other pools.
uint64_t held_with_pool(uint64_t reserved, const FailureSnapshot& snapshot,
                        const trace::FailureContext& context) {
  uint64_t in_blocks = std::min(reserved, snapshot.stream_ordered_bytes);
  uint64_t other_pools = in_blocks - std::min(in_blocks, context.pool_used_bytes);
  return reserved - in_blocks + other_pools + context.pool_reserved_bytes;
}

// How much of what the process held was in use: from the blocks its own
// allocator reported (the pool API) and, at a stream-ordered failure, from
// the pool's counters. Null when neither is known. A pool does not say how
// its cache is split, so then the largest free block stays unknown.
void fill_use_inside_segments(FailureReport& failure, const trace::FailureContext& context,
                              const FailureSnapshot& snapshot) {
  const BlockFigures& blocks = snapshot.blocks;
  bool blocks_known = blocks.sub_allocated_segments > 0;
  bool pool_known = pool_figures_known(context);
  if (!blocks_known && !pool_known) return;
  uint64_t pool_cache = pool_known ? context.pool_reserved_bytes - context.pool_used_bytes : 0;
  if (pool_known) {
    failure.process_reserved_bytes = held_with_pool(failure.process_reserved_bytes, snapshot, context);
  }
  uint64_t cached = std::min(blocks.cached_free_bytes + pool_cache, failure.process_reserved_bytes);
  failure.process_allocated_bytes = failure.process_reserved_bytes - cached;
  if (pool_cache > 0) return;
  uint64_t largest = std::min(blocks.largest_free_block_bytes, cached);
  failure.largest_free_block_bytes = largest;
  failure.fragmentation =
      cached > 0 ? 1.0 - static_cast<double>(largest) / static_cast<double>(cached) : 0.0;
}

FailureReport summarize_failure(const trace::Trace& trace, const trace::RecordedFailure& recorded,
                                const FailureSnapshot& snapshot, const ProcessSummary& process,
                                FrameSymbolizer* symbolizer) {
  const trace::FailureContext& context = recorded.context;
  const Event& event = context.event;
  FailureReport failure;
  failure.api = event.api;
  failure.device = event.device;
  failure.device_name = device_name(trace, event.device);
  failure.requested_bytes = event.size;
  failure.time_ns = event.time_ns;
  failure.thread = event.thread;
  failure.stack = describe_stack(trace, event.stack_id, symbolizer);

  // The live process measured the same thing the model rebuilt; its figure
  // also covers memory the model may have missed.
  failure.process_reserved_bytes =
      context.process_reserved_bytes > 0 ? context.process_reserved_bytes : snapshot.reserved_bytes;
  failure.process_segments = context.process_segments > 0 ? context.process_segments : snapshot.segments;
  failure.recovered = snapshot.recovered;
  failure.released_after_bytes = snapshot.released_after_bytes;
  fill_use_inside_segments(failure, context, snapshot);  // before other_bytes: it may add the pool's cache

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

std::vector<LiveOnDevice> summarize_live(const trace::Trace& trace, const ProcessMemory& memory,
                                         FrameSymbolizer* symbolizer) {
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
                           allocation.thread, describe_stack(trace, allocation.stack_id, symbolizer)});
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
  if (report.totals.unmatched_pool_calls > 0) {
    notes.push_back(std::to_string(report.totals.unmatched_pool_calls) +
                    " pool API calls (oomtrace_pool_alloc/oomtrace_pool_free) named memory no segment held, "
                    "or a block never reported; they were not counted.");
  }
  bool any_allocated_unknown = false;
  for (const FailureReport& failure : report.failures) any_allocated_unknown |= !failure.process_allocated_bytes;
  if (any_allocated_unknown) {
    notes.push_back("process_allocated_bytes is null: at the driver level the framework's "
                    "sub-allocations inside its segments are not visible.");
  }
  return notes;
}

// NVML names processes by their pid in the host's namespace; an attached
// process in a container is itself under the pid the command saw.
void forget_outer_pid(const AttachSummary& attach, std::vector<FailureReport>& failures) {
  if (!attach.outer_pid) return;
  for (FailureReport& failure : failures) {
    std::erase_if(failure.other_processes,
                  [&](const OtherProcess& other) { return other.pid == *attach.outer_pid; });
  }
}

// A snapshot's allocator_settings hold JSON values; strings lose their quotes.
std::vector<SettingEntry> as_setting_entries(const std::vector<TorchSetting>& settings) {
  std::vector<SettingEntry> entries;
  for (const TorchSetting& setting : settings) {
    std::string value = setting.json_value;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    entries.push_back({setting.key, value});
  }
  return entries;
}

}  // namespace

Report analyze(const trace::Trace& trace, FrameSymbolizer* symbolizer) {
  Replay replayed = replay(trace);
  Report report;
  report.process = summarize_process(trace);
  report.devices = summarize_devices(trace, replayed.memory);
  report.totals = summarize_totals(replayed.memory);
  report.host_pinned = {replayed.memory.peak_host_pinned_bytes(), replayed.memory.host_pinned_bytes()};
  for (const trace::Setting& setting : trace.settings) {
    report.settings.push_back({setting.key, setting.value});
    if (setting.key == "OOMTRACE_SIMULATED_GPU") report.simulated_gpu = setting.value;
  }

  AllocatorSettings allocator_settings = read_allocator_settings(report.settings);
  for (size_t i = 0; i < trace.failures.size(); ++i) {
    report.failures.push_back(
        summarize_failure(trace, trace.failures[i], replayed.failures[i], report.process, symbolizer));
  }
  // The errors only the framework saw (a memory fraction: no CUDA call
  // failed, or the exception PyTorch raised after its CUDA calls failed), in
  // time order.
  for (FailureReport& failure : framework_failures(trace)) report.failures.push_back(std::move(failure));
  std::stable_sort(report.failures.begin(), report.failures.end(),
                   [](const FailureReport& a, const FailureReport& b) { return a.time_ns < b.time_ns; });
  // Before judging: a PyTorch snapshot fills the figures the verdict reads,
  // for the exception PyTorch raised as for the CUDA calls that failed.
  std::vector<std::string> snapshot_notes = apply_torch_snapshots(trace, report);
  report.attach = summarize_attach(trace);
  if (report.attach) {
    add_baseline_to_failures(*report.attach, report.failures);
    forget_outer_pid(*report.attach, report.failures);
  }
  for (const PytorchSnapshotReport& snapshot : report.pytorch) {
    apply_snapshot_allocator_settings(allocator_settings, as_setting_entries(snapshot.analysis.allocator_settings));
  }
  for (FailureReport& failure : report.failures) judge(failure, allocator_settings);
  add_replay_findings(trace, allocator_settings, report);
  for (FailureReport& failure : report.failures) apply_replay_finding(failure, allocator_settings);
  explain_baseline(report.failures);
  report.live_at_end = summarize_live(trace, replayed.memory, symbolizer);
  report.leak_suspected = detect_leak(trace, symbolizer);
  if (report.leak_suspected.suspected) {
    add_python_leak_sites(report, kLeakSitesShown);
    add_leak_suggestion(report.leak_suspected, report.failures);
  }
  report.trace = summarize_trace(trace);
  report.notes = collect_notes(trace, report);
  report.notes.insert(report.notes.end(), snapshot_notes.begin(), snapshot_notes.end());
  if (symbolizer) {
    report.symbolized = true;
    for (const std::string& problem : symbolizer->problems()) report.notes.push_back(as_sentence(problem));
  }
  return report;
}

}  // namespace oomtrace::report
