#include "report/render/pytorch_json.h"
#include "report/render/json_values.h"

namespace oomtrace::report {
namespace {

using json = nlohmann::ordered_json;

json tally_json(const TorchStateTally& tally) { return {{"count", tally.blocks}, {"bytes", tally.bytes}}; }

json histogram_json(const std::vector<TorchSizeBucket>& buckets) {
  json list = json::array();
  for (const TorchSizeBucket& bucket : buckets) {
    list.push_back({{"min_bytes", bucket.min_bytes},
                    {"max_bytes", bucket.max_bytes},
                    {"count", bucket.blocks},
                    {"bytes", bucket.bytes}});
  }
  return list;
}

json sites_json(const std::vector<TorchAllocationSite>& sites) {
  json list = json::array();
  for (const TorchAllocationSite& site : sites) {
    list.push_back({{"site", site.site}, {"bytes", site.bytes}, {"blocks", site.blocks}});
  }
  return list;
}

json blocks_json(const std::vector<TorchLargeBlock>& blocks) {
  json list = json::array();
  for (const TorchLargeBlock& block : blocks) {
    list.push_back({{"address", block.address},
                    {"size_bytes", block.size},
                    {"requested_bytes", block.requested_size},
                    {"state", torch_block_state_name(block.state)},
                    {"site", block.site},
                    {"python_stack", block.python_stack}});
  }
  return list;
}

json actions_json(const std::vector<TorchActionCount>& actions) {
  json object = json::object();
  for (const TorchActionCount& action : actions) object[action.action] = action.count;
  return object;
}

json oom_json(const std::optional<TorchOomEvent>& oom) {
  if (!oom) return nullptr;
  return {{"requested_bytes", oom->requested_bytes},
          {"device_free_bytes", or_null(oom->device_free_bytes)},
          {"time_us", or_null(oom->time_us)},
          {"python_stack", oom->python_stack}};
}

json device_json(const TorchDeviceMemory& d) {
  return {{"device", d.device},
          {"reserved_bytes", d.reserved_bytes},
          {"allocated_bytes", d.allocated_bytes},
          {"requested_bytes", d.requested_bytes},
          {"pending_free_bytes", d.pending_free_bytes},
          {"cached_free_bytes", d.cached_free_bytes},
          {"largest_free_block_bytes", d.largest_free_block_bytes},
          {"fragmentation", or_null(d.fragmentation)},
          {"segments", {{"total", d.segments},
                        {"small", d.small_segments},
                        {"large", d.large_segments},
                        {"expandable", d.expandable_segments}}},
          {"blocks", {{"active_allocated", tally_json(d.active_allocated)},
                      {"active_pending_free", tally_json(d.active_pending_free)},
                      {"inactive", tally_json(d.inactive)}}},
          {"free_block_histogram", histogram_json(d.free_block_histogram)},
          {"top_sites", sites_json(d.top_sites)},
          {"largest_blocks", blocks_json(d.largest_blocks)},
          {"trace_events", d.trace_events},
          {"trace_actions", actions_json(d.trace_actions)},
          {"last_oom", oom_json(d.last_oom)}};
}

// Values were stored as JSON text by the snapshot reader, which wrote them.
json settings_json(const std::vector<TorchSetting>& settings) {
  json object = json::object();
  for (const TorchSetting& setting : settings) {
    json value = json::parse(setting.json_value, nullptr, false);
    object[setting.key] = value.is_discarded() ? json(setting.json_value) : std::move(value);
  }
  return object;
}

json snapshot_json(const PytorchSnapshotReport& snapshot) {
  const TorchSnapshotAnalysis& analysis = snapshot.analysis;
  json devices = json::array();
  for (const TorchDeviceMemory& device : analysis.devices) devices.push_back(device_json(device));
  return {{"path", snapshot.path},
          {"time_ns", or_null(snapshot.time_ns)},
          {"failures", snapshot.failures},
          {"format", torch_snapshot_format_name(analysis.format)},
          {"devices", std::move(devices)},
          {"allocator_settings", settings_json(analysis.allocator_settings)},
          {"external_annotations", analysis.external_annotations},
          {"notes", analysis.notes}};
}

}  // namespace

const char* report_input_name(ReportInput input) {
  return input == ReportInput::TorchSnapshot ? "torch_snapshot" : "trace";
}

json pytorch_json(const std::vector<PytorchSnapshotReport>& snapshots) {
  json list = json::array();
  for (const PytorchSnapshotReport& snapshot : snapshots) list.push_back(snapshot_json(snapshot));
  return list;
}

}  // namespace oomtrace::report
