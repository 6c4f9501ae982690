#include "report/render/whatif_render.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "report/common/format_bytes.h"

namespace oomtrace::report {
namespace {

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", share * 100.0);
  return text;
}

std::string share_of(uint64_t part, uint64_t whole) {
  return percent(whole ? static_cast<double>(part) / static_cast<double>(whole) : 1.0);
}

std::string pad(const std::string& text, size_t width, bool right_align = false) {
  if (text.size() >= width) return text;
  std::string spaces(width - text.size(), ' ');
  return right_align ? spaces + text : text + spaces;
}

std::string input_kind_text(const std::string& kind) {
  return kind == "pytorch-snapshot" ? "PyTorch snapshot" : "oomtrace trace";
}

std::string row_label(const WhatIfRow& row) { return row.recorded ? row.settings + " (recorded)" : row.settings; }

std::string oom_text(const WhatIfRow& row) {
  return row.oom_at_event ? "yes (at event " + std::to_string(*row.oom_at_event) + ")" : "no";
}

std::string header(const WhatIfAnalysis& analysis, const std::string& input_name) {
  const auto& counts = analysis.fidelity.counts;
  std::string text = "What if: " + input_name + " -- " + input_kind_text(analysis.input_kind) + ", device " +
                     std::to_string(analysis.device) + ", " + std::to_string(analysis.events) + " events\n";
  text += "Recorded settings: " + analysis.recorded_settings + " (" + analysis.settings_origin + ")\n";
  text += "Model fidelity under them: " + std::to_string(counts.allocations_same_address) + " of " +
          std::to_string(counts.allocations_recorded) + " allocations at the recorded address (" +
          share_of(counts.allocations_same_address, counts.allocations_recorded) + "), " +
          std::to_string(counts.segment_allocs_reproduced) + " of " + std::to_string(counts.segment_allocs_recorded) +
          " device allocations reproduced (" + share_of(counts.segment_allocs_reproduced, counts.segment_allocs_recorded) +
          "); peak reserved " + format_bytes(analysis.fidelity.recorded_peak_reserved_bytes) + " recorded, " +
          format_bytes(analysis.fidelity.modelled_peak_reserved_bytes) + " modelled\n";
  text += "Capacity: " + format_bytes(analysis.capacity_bytes) + " (" + analysis.capacity_source + ")\n";
  return text;
}

std::string table(const WhatIfAnalysis& analysis) {
  size_t width = 8;
  for (const WhatIfRow& row : analysis.rows) width = std::max(width, row_label(row).size());
  std::string text = "\n  " + pad("settings", width) + "  peak reserved  peak allocated  frag. at peak  device allocs" +
                     "  OOM at this capacity\n";
  for (const WhatIfRow& row : analysis.rows) {
    text += "  " + pad(row_label(row), width) + "  " + pad(format_bytes(row.peak_reserved_bytes), 13, true) + "  " +
            pad(format_bytes(row.peak_allocated_bytes), 14, true) + "  " +
            pad(percent(row.fragmentation_at_peak), 13, true) + "  " +
            pad(std::to_string(row.device_allocations), 13, true) + "  " + oom_text(row) + "\n";
  }
  return text;
}

std::string difference_to_recorded(const WhatIfRow& row, const WhatIfRow& recorded) {
  if (row.recorded) return "the recorded settings";
  if (row.peak_reserved_bytes == recorded.peak_reserved_bytes) return "as much as recorded";
  bool less = row.peak_reserved_bytes < recorded.peak_reserved_bytes;
  uint64_t delta = less ? recorded.peak_reserved_bytes - row.peak_reserved_bytes
                        : row.peak_reserved_bytes - recorded.peak_reserved_bytes;
  return format_bytes(delta) + (less ? " less" : " more") + " than recorded";
}

std::string ranking(const WhatIfAnalysis& analysis) {
  const WhatIfRow& recorded = analysis.rows.front();
  size_t width = 8;
  for (const WhatIfRow& row : analysis.rows) width = std::max(width, row.settings.size());
  std::string text = "\nRanked (settings that avoid the out-of-memory first, least reserved first; within " +
                     std::to_string(static_cast<int>(kPeakTolerance * 100)) +
                     " % of the least, fewest added settings first):\n";
  size_t place = 0;
  for (size_t index : analysis.ranking) {
    const WhatIfRow& row = analysis.rows[index];
    std::string detail = row.oom_at_event ? "out of memory at event " + std::to_string(*row.oom_at_event) +
                                                "; needs " + format_bytes(row.unconstrained_peak_reserved_bytes)
                                          : "peak reserved " + format_bytes(row.peak_reserved_bytes) + " (" +
                                                difference_to_recorded(row, recorded) + ")";
    text += "  " + pad(std::to_string(++place) + ".", 4) + pad(row.settings, width) + "  " + detail + "\n";
  }
  return text;
}

std::string recommendation(const WhatIfAnalysis& analysis) {
  const WhatIfRow* best = analysis.recommendation();
  std::string capacity = format_bytes(analysis.capacity_bytes);
  if (!best) {
    uint64_t least = UINT64_MAX;
    for (const WhatIfRow& row : analysis.rows) least = std::min(least, row.unconstrained_peak_reserved_bytes);
    return "Recommendation: no setting tried avoids the out-of-memory at " + capacity + "; the least any needs is " +
           format_bytes(least) + ". Reduce what the program keeps live, or use a larger device.\n";
  }
  if (best->recorded) {
    return "Recommendation: keep the recorded settings (" + best->settings +
           "): no alternative needs " +
           std::to_string(static_cast<int>(kPeakTolerance * 100)) + " % less. Predicted peak reserved " + format_bytes(best->peak_reserved_bytes) +
           ", no out-of-memory at " + capacity + ".\n";
  }
  return "Recommendation: PYTORCH_CUDA_ALLOC_CONF=" + best->settings + " -- predicted peak reserved " +
         format_bytes(best->peak_reserved_bytes) + " (" + difference_to_recorded(*best, analysis.rows.front()) +
         "), no out-of-memory at " + capacity + ".\n";
}

nlohmann::ordered_json row_json(const WhatIfRow& row) {
  nlohmann::ordered_json json;
  json["settings"] = row.settings;
  json["recorded"] = row.recorded;
  json["peak_reserved_bytes"] = row.peak_reserved_bytes;
  json["peak_allocated_bytes"] = row.peak_allocated_bytes;
  json["fragmentation_at_peak"] = row.fragmentation_at_peak;
  json["device_allocations"] = row.device_allocations;
  json["oom"] = row.oom_at_event.has_value();
  json["oom_at_event"] = row.oom_at_event ? nlohmann::ordered_json(*row.oom_at_event) : nlohmann::ordered_json();
  json["failed_requests"] = row.failed_requests;
  json["unconstrained_peak_reserved_bytes"] = row.unconstrained_peak_reserved_bytes;
  return json;
}

nlohmann::ordered_json fidelity_json(const WhatIfFidelity& fidelity) {
  nlohmann::ordered_json json;
  json["allocations_recorded"] = fidelity.counts.allocations_recorded;
  json["allocations_same_address"] = fidelity.counts.allocations_same_address;
  json["segment_allocs_recorded"] = fidelity.counts.segment_allocs_recorded;
  json["segment_allocs_reproduced"] = fidelity.counts.segment_allocs_reproduced;
  json["share"] = fidelity.counts.share();
  json["recorded_peak_reserved_bytes"] = fidelity.recorded_peak_reserved_bytes;
  json["modelled_peak_reserved_bytes"] = fidelity.modelled_peak_reserved_bytes;
  return json;
}

}  // namespace

std::string render_whatif_text(const WhatIfAnalysis& analysis, const std::string& input_name) {
  std::string text = header(analysis, input_name) + table(analysis) + ranking(analysis) + "\n" + recommendation(analysis);
  for (const std::string& note : analysis.notes) text += "Note: " + note + "\n";
  return text;
}

std::string render_whatif_json(const WhatIfAnalysis& analysis, const std::string& input_name) {
  nlohmann::ordered_json json;
  json["schema"] = "oomtrace-whatif/1";
  json["input"] = {{"path", input_name}, {"kind", analysis.input_kind}, {"device", analysis.device},
                   {"events", analysis.events}};
  json["recorded_settings"] = analysis.recorded_settings;
  json["settings_origin"] = analysis.settings_origin;
  json["capacity_bytes"] = analysis.capacity_bytes;
  json["capacity_source"] = analysis.capacity_source;
  json["fidelity"] = fidelity_json(analysis.fidelity);
  json["rows"] = nlohmann::ordered_json::array();
  for (const WhatIfRow& row : analysis.rows) json["rows"].push_back(row_json(row));
  json["ranking"] = analysis.ranking;
  const WhatIfRow* best = analysis.recommendation();
  json["recommendation"] = best ? nlohmann::ordered_json{{"settings", best->settings},
                                                          {"recorded", best->recorded},
                                                          {"predicted_peak_reserved_bytes", best->peak_reserved_bytes}}
                                : nlohmann::ordered_json();
  json["notes"] = analysis.notes;
  return json.dump(2) + "\n";
}

}  // namespace oomtrace::report
