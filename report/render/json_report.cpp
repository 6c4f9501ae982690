#include "report/render/json_report.h"
#include "report/render/json_values.h"

#include <ctime>

#include "report/render/pytorch_json.h"

namespace oomtrace::report {
namespace {

using json = nlohmann::ordered_json;

json process_json(const ProcessSummary& process) {
  return {{"pid", or_null(process.pid)},
          {"host", process.host},
          {"executable", process.executable},
          {"argv", process.argv},
          {"rank", or_null(process.rank)},
          {"local_rank", or_null(process.local_rank)},
          {"world_size", or_null(process.world_size)}};
}

json devices_json(const std::vector<DeviceSummary>& devices) {
  json list = json::array();
  for (const DeviceSummary& device : devices) {
    list.push_back({{"index", device.index},
                    {"name", or_null(device.name)},
                    {"total_bytes", or_null(device.total_bytes)},
                    {"peak_reserved_bytes", device.peak_reserved_bytes}});
  }
  return list;
}

json totals_json(const Totals& totals) {
  return {{"allocations", totals.allocations},
          {"frees", totals.frees},
          {"failed_allocations", totals.failed_allocations},
          {"unmatched_frees", totals.unmatched_frees}};
}

json replay_json(const std::optional<ReplayFinding>& finding) {
  if (!finding) return nullptr;
  return {{"input_kind", finding->input_kind},
          {"input", finding->input_path},
          {"events", finding->events},
          {"capacity_bytes", finding->capacity_bytes},
          {"capacity_source", finding->capacity_source},
          {"recorded_settings", finding->recorded_settings},
          {"recorded_oom_at_event", or_null(finding->recorded_oom_at_event)},
          {"fidelity", finding->fidelity},
          {"recommended_settings", or_null(finding->recommended_settings)},
          {"predicted_peak_reserved_bytes", or_null(finding->predicted_peak_reserved_bytes)},
          {"recorded_is_best", finding->recorded_is_best}};
}

json suggestions_json(const std::vector<Suggestion>& suggestions) {
  json list = json::array();
  for (const Suggestion& suggestion : suggestions) {
    list.push_back({{"setting", suggestion.setting}, {"reason", suggestion.reason}});
  }
  return list;
}

json other_processes_json(const std::vector<OtherProcess>& processes) {
  json list = json::array();
  for (const OtherProcess& process : processes) {
    list.push_back({{"pid", process.pid}, {"used_bytes", process.used_bytes}});
  }
  return list;
}

json cap_json(const std::optional<MemoryCap>& cap) {
  if (!cap) return nullptr;
  return {{"kind", cap_kind_name(cap->kind)}, {"bytes", cap->bytes}, {"stated_by_failure", cap->stated_by_failure}};
}

json leak_json(const LeakSignal& leak) {
  json sites = json::array();
  for (const LeakSite& site : leak.sites) {
    sites.push_back({{"frame", site.frame.empty() ? json(nullptr) : json(site.frame)},
                     {"stack", site.stack},
                     {"growth_bytes", site.growth_bytes},
                     {"count", site.count}});
  }
  json python_sites = json::array();
  for (const TorchAllocationSite& site : leak.python_sites) {
    python_sites.push_back({{"site", site.site}, {"bytes", site.bytes}, {"blocks", site.blocks}});
  }
  return {{"suspected", leak.suspected},
          {"growth_bytes", leak.growth_bytes},
          {"explanation", leak.explanation},
          {"sites", std::move(sites)},
          {"python_sites", std::move(python_sites)}};
}

}  // namespace

json failure_to_json(const FailureReport& failure) {
  return {{"api", std::string(api_name(failure.api))},
          {"device", failure.device},
          {"device_name", or_null(failure.device_name)},
          {"requested_bytes", failure.requested_bytes},
          {"device_total_bytes", or_null(failure.device_total_bytes)},
          {"device_free_bytes", or_null(failure.device_free_bytes)},
          {"process_reserved_bytes", failure.process_reserved_bytes},
          {"process_segments", failure.process_segments},
          {"process_allocated_bytes", or_null(failure.process_allocated_bytes)},
          {"other_bytes", or_null(failure.other_bytes)},
          {"nvml_known", failure.nvml_known},
          {"other_processes", other_processes_json(failure.other_processes)},
          {"largest_free_block_bytes", or_null(failure.largest_free_block_bytes)},
          {"fragmentation", or_null(failure.fragmentation)},
          {"recovered", failure.recovered},
          {"released_after_bytes", failure.released_after_bytes},
          {"source", failure.from_message ? "message" : "trace"},
          {"framework", or_null(failure.framework)},
          {"cap", cap_json(failure.cap)},
          {"verdict", failure.verdict ? json(verdict_name(*failure.verdict)) : json(nullptr)},
          {"explanation", failure.explanation},
          {"suggestions", suggestions_json(failure.suggestions)},
          {"replay", replay_json(failure.replay)},
          {"stack", failure.stack},
          {"python_stack", failure.python_stack},
          {"time_ns", failure.time_ns},
          {"thread", failure.thread},
          {"held_before_attach_bytes", failure.held_before_attach_bytes}};
}

namespace {

json live_json(const std::vector<LiveOnDevice>& live) {
  json list = json::array();
  for (const LiveOnDevice& device : live) {
    json top = json::array();
    for (const LiveAllocationSummary& allocation : device.top) {
      top.push_back({{"api", std::string(api_name(allocation.api))},
                     {"address", allocation.address},
                     {"size_bytes", allocation.size},
                     {"time_ns", allocation.time_ns},
                     {"thread", allocation.thread},
                     {"stack", allocation.stack}});
    }
    list.push_back({{"device", device.device},
                    {"bytes", device.bytes},
                    {"count", device.count},
                    {"top", std::move(top)}});
  }
  return list;
}

json trace_json(const TraceSummary& trace) {
  return {{"path", trace.path},
          {"complete", trace.complete},
          {"exit_reason", or_null(trace.exit_reason)},
          {"events", trace.events},
          {"format_version", trace.format_version},
          {"description", trace.description}};
}

// An object keyed by variable name, so a reader can look one up directly;
// a key recorded twice keeps its last value, as the environment would.
json settings_json(const std::vector<SettingEntry>& settings) {
  json object = json::object();
  for (const SettingEntry& setting : settings) object[setting.key] = setting.value;
  return object;
}

// UTC, to the second: when the attach happened, for people and for joining
// with other logs.
std::string iso_time(uint64_t unix_ns) {
  std::time_t seconds = static_cast<std::time_t>(unix_ns / 1000000000ull);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

json attach_json(const std::optional<AttachSummary>& attach) {
  if (!attach) return nullptr;
  json devices = json::array();
  for (const AttachDevice& device : attach->devices) {
    devices.push_back({{"device", device.device},
                       {"total_bytes", or_null(device.total_bytes)},
                       {"free_bytes", or_null(device.free_bytes)},
                       {"process_bytes", or_null(device.process_bytes)},
                       {"held_before_attach_bytes", device.held_bytes}});
  }
  json paths = json::array();
  for (const AttachPathSummary& path : attach->paths) {
    paths.push_back({{"name", path.name}, {"covered", path.covered}, {"detail", path.detail}});
  }
  return {{"time", iso_time(attach->unix_ns)},
          {"unix_ns", attach->unix_ns},
          {"outer_pid", or_null(attach->outer_pid)},
          {"baseline_device_used_bytes", attach->baseline_device_used_bytes},
          {"baseline_process_bytes", or_null(attach->baseline_process_bytes)},
          {"devices", std::move(devices)},
          {"paths", std::move(paths)}};
}

}  // namespace

json to_json(const Report& report) {
  json failures = json::array();
  for (const FailureReport& failure : report.failures) failures.push_back(failure_to_json(failure));
  return {{"schema", kReportSchema},
          {"process", process_json(report.process)},
          {"devices", devices_json(report.devices)},
          {"totals", totals_json(report.totals)},
          {"host_pinned", {{"peak_bytes", report.host_pinned.peak_bytes},
                           {"live_bytes", report.host_pinned.live_bytes}}},
          {"failures", std::move(failures)},
          {"live_at_end", live_json(report.live_at_end)},
          {"leak_suspected", leak_json(report.leak_suspected)},
          {"trace", trace_json(report.trace)},
          {"settings", settings_json(report.settings)},
          {"simulated_gpu", or_null(report.simulated_gpu)},
          {"attach", attach_json(report.attach)},
          {"notes", report.notes},
          {"input", report_input_name(report.input)},
          {"pytorch", pytorch_json(report.pytorch)}};
}

std::string render_json(const Report& report) {
  // Replace rather than throw on bytes that are not UTF-8 (argv, paths,
  // symbols come from the traced process and may be anything).
  return to_json(report).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace oomtrace::report
