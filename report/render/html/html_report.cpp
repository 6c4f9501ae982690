#include "report/render/html/html_report.h"

#include <cstdio>

#include "report/common/format_bytes.h"
#include "report/render/html/html_charts.h"
#include "report/render/html/html_page.h"
#include "report/render/html/html_text.h"

namespace oomtrace::report {
namespace {

using html::escape_html;
using std::to_string;

// Failures given a section of their own; past it the JSON report has them.
constexpr size_t kFailureSections = 1000;

std::string count_of(size_t count, const char* singular, const char* plural) {
  return to_string(count) + " " + (count == 1 ? singular : plural);
}

std::string gpu(int device) { return device < 0 ? std::string("the host") : "GPU " + to_string(device); }

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", share * 100);
  return text;
}

std::string bytes_or_unknown(const std::optional<uint64_t>& bytes) {
  return bytes ? format_bytes(*bytes) : std::string("unknown");
}

std::string element(const std::string& tag, const std::string& content, const std::string& attributes = "") {
  return "<" + tag + attributes + ">" + content + "</" + tag + ">";
}

std::string page_header(const Report& report) {
  std::string title = report.process.executable.empty() ? report.trace.path : report.process.executable;
  std::string text = element("h1", "oomtrace report: " + escape_html(title));
  std::string facts;
  if (report.process.pid) facts += "pid " + to_string(*report.process.pid);
  if (!report.process.host.empty()) facts += " on " + escape_html(report.process.host);
  if (!report.process.argv.empty()) {
    std::string command;
    for (const std::string& arg : report.process.argv) command += (command.empty() ? "" : " ") + arg;
    facts += " &middot; <span class=\"mono\">" + escape_html(command) + "</span>";
  }
  if (!facts.empty()) text += element("p", facts, " class=\"meta\"");
  text += element("p", escape_html(report.trace.path) + " &middot; " + escape_html(report.trace.description) +
                           (report.simulated_gpu ? " &middot; simulated GPU " + escape_html(*report.simulated_gpu) : ""),
                  " class=\"meta\"");
  return text;
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string text;
  for (const auto& [color, words] : entries) {
    text += "<span><i style=\"background:" + color + "\"></i>" + escape_html(words) + "</span>";
  }
  return element("p", text, " class=\"legend\"");
}

std::string timeline_section(const Report& report, const ReportVisuals& visuals) {
  if (visuals.timeline.devices.empty()) return "";
  std::string text = element("h2", "Memory over time");
  text += legend({{"#2f63b8", "reserved by this process (highest in each interval)"},
                  {"#1f9d55", "allocated inside its segments (when blocks were reported)"},
                  {"#c77800", "device free (when the driver said)"},
                  {"#222", "device total"},
                  {"#d12f2f", "failed allocation (click for details; dashed: recovered)"}});
  for (const DeviceTimeline& device : visuals.timeline.devices) {
    std::string heading = gpu(device.device) + ": peak " + format_bytes(device.peak_reserved_bytes) + " reserved" +
                          (device.total_bytes ? " of " + format_bytes(*device.total_bytes) : std::string()) + ", " +
                          count_of(device.failures.size() + device.failures_not_marked, "failed allocation",
                                   "failed allocations");
    text += element("h3", escape_html(heading));
    text += html::timeline_svg(device, visuals.timeline.end_ns, report);
    if (device.failures_not_marked > 0) {
      text += element("p", to_string(device.failures_not_marked) + " later failures are not marked.", " class=\"meta\"");
    }
  }
  return text;
}

std::string stack_block(const std::vector<std::string>& frames) {
  std::string text;
  for (const std::string& frame : frames) text += escape_html(frame) + "\n";
  return element("pre", text, " class=\"stack\"");
}

std::string figures_table(const FailureReport& f) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"requested", format_bytes(f.requested_bytes)},
      {"device total", bytes_or_unknown(f.device_total_bytes)},
      {"device free", bytes_or_unknown(f.device_free_bytes)},
      {"held by this process",
       format_bytes(f.process_reserved_bytes) + " in " + count_of(f.process_segments, "segment", "segments")},
      {"allocated inside them", bytes_or_unknown(f.process_allocated_bytes)},
      {"largest free block", bytes_or_unknown(f.largest_free_block_bytes)},
      {"fragmentation", f.fragmentation ? percent(*f.fragmentation) : "unknown"},
      {"other processes and the context", bytes_or_unknown(f.other_bytes)},
  };
  for (const OtherProcess& other : f.other_processes) {
    rows.push_back({"process " + to_string(other.pid), format_bytes(other.used_bytes)});
  }
  std::string body;
  for (const auto& [name, value] : rows) body += "<tr><th>" + escape_html(name) + "</th><td class=\"num\">" +
                                                 escape_html(value) + "</td></tr>";
  return element("table", body, " class=\"figures\"");
}

std::string suggestions_list(const FailureReport& f) {
  if (f.suggestions.empty()) return "";
  std::string items;
  for (const Suggestion& s : f.suggestions) {
    items += "<li><code>" + escape_html(s.setting) + "</code> &mdash; " + escape_html(s.reason) + "</li>";
  }
  return element("h3", "Try, most promising first") + element("ol", items, " class=\"suggestions\"");
}

std::string whatif_table(const FailureReport& f, const FailureVisuals* visuals) {
  if (!f.replay) return "";
  const ReplayFinding& finding = *f.replay;
  std::string text = element("h3", "What if: the recorded requests replayed under other allocator settings");
  text += element("p", escape_html(to_string(finding.events) + " events of " + gpu(f.device) + " from " +
                                   finding.input_path + " at " + format_bytes(finding.capacity_bytes) + " (" +
                                   finding.capacity_source + "); " + percent(finding.fidelity) +
                                   " of recorded placements reproduced"),
                  " class=\"meta\"");
  if (!visuals || visuals->whatif.empty()) {
    std::string best = finding.recommended_settings ? "best setting: " + *finding.recommended_settings
                                                    : "no setting of the sweep avoids the failure";
    return text + element("p", escape_html(best));
  }
  std::string rows;
  for (const WhatIfTableRow& row : visuals->whatif) {
    std::string outcome = row.oom_at_event ? "out of memory at event " + to_string(*row.oom_at_event) : "fits";
    std::string name = row.settings + (row.recorded ? " (recorded)" : "") + (row.recommended ? " (recommended)" : "");
    rows += std::string("<tr") + (row.recommended ? " class=\"recommended\"" : "") + "><td><code>" +
            escape_html(name) + "</code></td><td>" + escape_html(outcome) + "</td><td class=\"num\">" +
            escape_html(format_bytes(row.peak_reserved_bytes)) + "</td><td class=\"num\">" +
            escape_html(format_bytes(row.peak_allocated_bytes)) + "</td><td class=\"num\">" +
            escape_html(percent(row.fragmentation_at_peak)) + "</td><td class=\"num\">" +
            to_string(row.device_allocations) + "</td></tr>";
  }
  return text + "<table class=\"whatif\"><thead><tr><th>PYTORCH_CUDA_ALLOC_CONF</th><th>outcome</th>"
                "<th>peak reserved</th><th>peak allocated</th><th>fragmentation at peak</th>"
                "<th>device allocations</th></tr></thead><tbody>" +
         rows + "</tbody></table>";
}

std::string map_caption(const SegmentMap& map) {
  std::string source = map.source == "pytorch-snapshot" ? "the PyTorch snapshot"
                                                        : "the trace, replayed up to the failed call";
  std::string text = count_of(map.segments_total, "segment", "segments") + ", " + format_bytes(map.reserved_bytes) +
                     " held";
  if (map.blocks_known) {
    text += "; " + format_bytes(map.free_bytes) + " free in blocks, the largest " +
            format_bytes(map.largest_free_bytes);
  }
  text += " (from " + source + ")";
  if (map.segments.size() < map.segments_total) {
    text += "; the " + to_string(map.segments.size()) + " largest segments are drawn";
  }
  if (!map.blocks_known) text += ". No blocks were reported inside the segments: each is drawn whole";
  return element("p", escape_html(text + "."), " class=\"meta\"");
}

std::string segment_map_section(const SegmentMap& map, const std::string& owner) {
  std::string text = element("h3", map.requested_bytes > 0 ? "Segment map at the failure" : "Segment map");
  text += legend({{"#4a7fd4", "allocated"}, {"#8fd19e", "free (cached)"}, {"#9b6fd6", "freed, waiting for a stream"},
                  {"#a9b4c0", "held, inside unknown"}, {"#d12f2f", "the failed request"}});
  text += map_caption(map);
  text += html::segment_map_svg(map, owner);
  text += element("h3", "Free blocks by size");
  if (map.free_histogram.empty()) {
    text += element("p", map.blocks_known ? "No free block: every block was in use."
                                          : "Unknown: no blocks were reported inside the segments.",
                    " class=\"meta\"");
  } else {
    text += html::histogram_svg(map);
    if (map.requested_bytes > 0) {
      text += element("p", "Darker bars: blocks at least as large as the request.", " class=\"meta\"");
    }
  }
  return text;
}

std::string sites_section(const FailureVisuals& visuals) {
  std::string text;
  if (!visuals.top_sites.empty()) {
    text += element("h3", "Where the live memory was allocated (most bytes first)");
    std::string items;
    for (const LiveSite& site : visuals.top_sites) {
      std::string summary = format_bytes(site.bytes) + " in " + to_string(site.count) + " allocations: ";
      items += "<li><details><summary>" + escape_html(summary) + "<code>" + escape_html(site.frame) +
               "</code></summary>" + stack_block(site.stack) + "</details></li>";
    }
    text += element("ol", items, " class=\"sites\"");
  }
  if (!visuals.python_sites.empty()) {
    text += element("h3", "Live tensors by Python line (PyTorch snapshot)");
    std::string items;
    for (const TorchAllocationSite& site : visuals.python_sites) {
      items += "<li>" + escape_html(format_bytes(site.bytes) + " in " + to_string(site.blocks) + " blocks: ") +
               "<code>" + escape_html(site.site) + "</code></li>";
    }
    text += element("ol", items, " class=\"python-sites\"");
  }
  return text;
}

const FailureVisuals* visuals_of(const ReportVisuals& visuals, size_t failure) {
  for (const FailureVisuals& entry : visuals.failures) {
    if (entry.failure == failure) return &entry;
  }
  return nullptr;
}

std::string failure_section(const Report& report, const ReportVisuals& visuals, size_t index, bool open) {
  const FailureReport& f = report.failures[index];
  const FailureVisuals* pictures = visuals_of(visuals, index);
  std::string call = f.api != Api::Unknown ? std::string(api_name(f.api)) : f.framework.value_or("framework") + " allocation";
  std::string summary = "Failure " + to_string(index + 1) + ": " + call + " of " + format_bytes(f.requested_bytes) +
                        " on " + gpu(f.device) + " at " + html::format_seconds(f.time_ns) +
                        (f.recovered ? " (recovered)" : "");
  std::string text = "<details class=\"failure\" id=\"failure-" + to_string(index) + "\"" + (open ? " open" : "") +
                     "><summary>" + escape_html(summary) + "</summary>";
  std::string verdict = f.verdict ? verdict_name(*f.verdict) : "no verdict";
  text += element("p", "Verdict: <span>" + escape_html(verdict) + "</span>", " class=\"verdict\"");
  text += element("p", escape_html(f.explanation), " class=\"explanation\"");
  text += suggestions_list(f);
  text += "<div class=\"two\"><div>" + element("h3", "Figures") + figures_table(f) + "</div><div>";
  if (!f.python_stack.empty()) text += element("h3", "Python stack (innermost first)") + stack_block(f.python_stack);
  text += element("h3", "Native stack (innermost first)") +
          (f.stack.empty() ? element("p", "No stack was recorded.", " class=\"meta\"") : stack_block(f.stack));
  text += "</div></div>";
  text += whatif_table(f, pictures);
  if (pictures) {
    text += segment_map_section(pictures->segment_map, to_string(index));
    text += sites_section(*pictures);
  } else {
    text += element("p", "Not pictured: the report draws the segment map of the " + to_string(kDetailedFailures) +
                             " failures that matter most.",
                    " class=\"meta\"");
  }
  return text + "</details>";
}

std::string failures_section(const Report& report, const ReportVisuals& visuals) {
  if (report.failures.empty()) {
    return report.input == ReportInput::Trace ? element("h2", "No allocation failed") : "";
  }
  std::string text = element("h2", count_of(report.failures.size(), "failed allocation", "failed allocations"));
  // The last failure the process did not survive is the one that stopped it.
  size_t stopping = report.failures.size() - 1;
  for (size_t i = report.failures.size(); i-- > 0;) {
    if (!report.failures[i].recovered) {
      stopping = i;
      break;
    }
  }
  for (size_t i = 0; i < report.failures.size() && i < kFailureSections; ++i) {
    text += failure_section(report, visuals, i, i == stopping);
  }
  if (report.failures.size() > kFailureSections) {
    text += element("p", to_string(report.failures.size() - kFailureSections) +
                             " more failures: see the JSON report.", " class=\"meta\"");
  }
  return text;
}

std::string snapshot_section(const ReportVisuals& visuals) {
  std::string text;
  for (const SegmentMap& map : visuals.snapshot_maps) {
    text += element("h2", escape_html(gpu(map.device) + " in the PyTorch snapshot"));
    text += segment_map_section(map, "gpu-" + to_string(map.device));
  }
  return text;
}

std::string leak_section(const Report& report) {
  const LeakSignal& leak = report.leak_suspected;
  if (!leak.suspected) return "";
  std::string text = element("h2", "Live memory kept growing");
  text += element("p", escape_html(leak.explanation));
  std::string items;
  for (const LeakSite& site : leak.sites) {
    items += "<li><details><summary>" + escape_html("+" + format_bytes(site.growth_bytes) + " in " +
                                                    to_string(site.count) + " allocations: ") +
             "<code>" + escape_html(site.frame) + "</code></summary>" + stack_block(site.stack) + "</details></li>";
  }
  return text + element("ol", items);
}

std::string notes_section(const Report& report) {
  if (report.notes.empty()) return "";
  std::string items;
  for (const std::string& note : report.notes) items += element("li", escape_html(note));
  return element("h2", "Notes") + element("ul", items);
}

}  // namespace

std::string render_html(const Report& report, const ReportVisuals& visuals) {
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                     "<title>oomtrace report</title><style>";
  page += html::kStyle;
  page += "</style><script>";
  page += html::kScript;
  page += "</script></head><body>";
  page += page_header(report);
  page += timeline_section(report, visuals);
  page += failures_section(report, visuals);
  page += snapshot_section(visuals);
  page += leak_section(report);
  page += notes_section(report);
  page += "<pre id=\"render-summary\"></pre></body></html>\n";
  return page;
}

}  // namespace oomtrace::report
