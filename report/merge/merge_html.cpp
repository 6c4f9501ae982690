// `oomtrace merge --format html`: one self-contained page (no script, no
// external file): the first failure, a bar chart of each rank's peak
// reserved memory drawn as inline SVG, the balance verdict and the table.
#include <algorithm>
#include <cstdio>

#include "report/common/format_bytes.h"
#include "report/merge/merge.h"

namespace oomtrace::report {
namespace {

std::string escaped(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string verdict_text(const std::optional<Verdict>& verdict) {
  return verdict ? verdict_name(*verdict) : std::string("unknown");
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

uint64_t largest_peak(const MergedRank& rank) {
  uint64_t peak = 0;
  for (const MergedDevice& device : rank.devices) peak = std::max(peak, device.peak_reserved_bytes);
  return peak;
}

uint64_t largest_total(const MergedRank& rank) {
  uint64_t total = 0;
  for (const MergedDevice& device : rank.devices) total = std::max(total, device.total_bytes.value_or(0));
  return total;
}

const char* page_style() {
  return "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
         "th{background:#f2f2f2}tr.failed td{background:#fde8e8}.why{max-width:60em}"
         ".bar{fill:#4a7fb5}.bar.failed{fill:#c0392b}.total{stroke:#555;stroke-dasharray:3 2}"
         "svg text{font-size:11px}";
}

// One bar per rank: its largest peak reserved over its GPUs, with a dashed
// mark at the GPU's capacity; failed ranks in red, the first one labelled.
std::string bar_chart(const MergeReport& merged) {
  if (merged.ranks.empty()) return {};
  uint64_t scale = 1;
  for (const MergedRank& rank : merged.ranks) scale = std::max({scale, largest_peak(rank), largest_total(rank)});
  const double bar_width = 28, gap = 10, height = 200, top = 20, left = 10;
  double width = left + merged.ranks.size() * (bar_width + gap);
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"" + number(width + 10) +
                    "\" height=\"" + number(top + height + 40) + "\"><title>Peak reserved per rank</title>\n";
  for (size_t i = 0; i < merged.ranks.size(); ++i) {
    const MergedRank& rank = merged.ranks[i];
    double x = left + i * (bar_width + gap);
    double bar = height * static_cast<double>(largest_peak(rank)) / static_cast<double>(scale);
    svg += "<rect class=\"bar" + std::string(rank.failure ? " failed" : "") + "\" x=\"" + number(x) + "\" y=\"" +
           number(top + height - bar) + "\" width=\"" + number(bar_width) + "\" height=\"" + number(bar) +
           "\"><title>rank " + std::to_string(rank.rank) + ": " + escaped(format_bytes(largest_peak(rank))) +
           (rank.failure ? " (out of memory)" : "") + "</title></rect>\n";
    if (uint64_t total = largest_total(rank)) {
      double y = top + height - height * static_cast<double>(total) / static_cast<double>(scale);
      svg += "<line class=\"total\" x1=\"" + number(x - 3) + "\" x2=\"" + number(x + bar_width + 3) + "\" y1=\"" +
             number(y) + "\" y2=\"" + number(y) + "\"/>\n";
    }
    svg += "<text x=\"" + number(x + bar_width / 2) + "\" y=\"" + number(top + height + 14) +
           "\" text-anchor=\"middle\">" + std::to_string(rank.rank) + "</text>\n";
    if (merged.first_failure && *merged.first_failure == i) {
      svg += "<text x=\"" + number(x + bar_width / 2) + "\" y=\"" + number(top + height + 28) +
             "\" text-anchor=\"middle\" fill=\"#c0392b\">first OOM</text>\n";
    }
  }
  return svg + "</svg>\n<p>Bars: peak reserved per rank (largest over its GPUs); dashed: the GPU's capacity; "
               "red: ran out of memory.</p>\n";
}

std::string first_failure_html(const MergeReport& merged) {
  if (!merged.first_failure) return "<p>No rank ran out of GPU memory.</p>\n";
  const MergedRank& rank = merged.ranks[*merged.first_failure];
  const RankFailure& failure = *rank.failure;
  std::string html = "<h2>First failure: rank " + std::to_string(rank.rank) + "</h2>\n<p>On " +
                     escaped(rank.host) + (rank.pid ? ", pid " + std::to_string(*rank.pid) : std::string()) +
                     ", at " + (failure.unix_ns ? escaped(iso_utc(*failure.unix_ns)) : std::string("an unknown time")) +
                     ": " + escaped(std::string(api_name(failure.api))) + " of " +
                     escaped(format_bytes(failure.requested_bytes)) + " on GPU " + std::to_string(failure.device) +
                     ".</p>\n<p>Verdict: <strong>" + escaped(verdict_text(failure.verdict)) + "</strong></p>\n";
  return html + "<p class=\"why\">" + escaped(failure.explanation) + "</p>\n";
}

std::string balance_html(const MergeReport& merged) {
  const Balance& balance = merged.balance;
  std::string html = "<h2>Balance</h2>\n<p>Rule: " + escaped(balance_rule()) + ".</p>\n<p>";
  if (!balance.balanced) return html + "Not judged: fewer than two GPUs of one kind.</p>\n";
  if (*balance.balanced) return html + "The ranks are balanced.</p>\n";
  html += "Not balanced. Outliers:</p>\n<ul>\n";
  for (const BalanceOutlier& outlier : balance.outliers) {
    html += "<li>rank " + std::to_string(merged.ranks[outlier.rank_index].rank) + " GPU " +
            std::to_string(outlier.device) + ": " + escaped(format_bytes(outlier.peak_reserved_bytes)) +
            " against the median " + escaped(format_bytes(outlier.median_bytes)) + "</li>\n";
  }
  return html + "</ul>\n";
}

std::string table_html(const MergeReport& merged) {
  std::string html =
      "<h2>Ranks</h2>\n<table>\n<tr><th>rank</th><th>local rank</th><th>host</th><th>pid</th><th>GPU</th>"
      "<th>peak reserved</th><th>total</th><th>headroom</th><th>status</th><th>trace</th></tr>\n";
  for (const MergedRank& rank : merged.ranks) {
    std::string status = rank.failure ? "out of memory: " + verdict_text(rank.failure->verdict) : rank.ended;
    std::string label = std::to_string(rank.rank) + (rank.rank_source == RankSource::FileOrder ? " (file order)" : "");
    std::vector<const MergedDevice*> devices;
    for (const MergedDevice& device : rank.devices) devices.push_back(&device);
    if (devices.empty()) devices.push_back(nullptr);
    for (const MergedDevice* device : devices) {
      html += std::string(rank.failure ? "<tr class=\"failed\">" : "<tr>") + "<td>" + escaped(label) + "</td><td>" +
              (rank.local_rank ? std::to_string(*rank.local_rank) : "") + "</td><td>" + escaped(rank.host) +
              "</td><td>" + (rank.pid ? std::to_string(*rank.pid) : "") + "</td>";
      if (device) {
        html += "<td>" + std::to_string(device->index) + "</td><td>" + escaped(format_bytes(device->peak_reserved_bytes)) +
                "</td><td>" + (device->total_bytes ? escaped(format_bytes(*device->total_bytes)) : "") + "</td><td>" +
                (device->headroom_bytes ? escaped(format_bytes(*device->headroom_bytes)) : "") + "</td>";
      } else {
        html += "<td></td><td></td><td></td><td></td>";
      }
      html += "<td>" + escaped(status) + "</td><td>" + escaped(rank.trace_path) + "</td></tr>\n";
    }
  }
  return html + "</table>\n";
}

std::string unreadable_html(const MergeReport& merged) {
  if (merged.unreadable.empty()) return {};
  std::string html = "<h2>Unreadable traces</h2>\n<ul>\n";
  for (const UnreadableTrace& trace : merged.unreadable) html += "<li>" + escaped(trace.error) + "</li>\n";
  return html + "</ul>\n";
}

}  // namespace

std::string render_merge_html(const MergeReport& merged) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>oomtrace merge: " +
         escaped(merged.folder) + "</title>\n<style>" + page_style() + "</style>\n</head>\n<body>\n<h1>oomtrace merge: " +
         escaped(merged.folder) + "</h1>\n" + first_failure_html(merged) + bar_chart(merged) + balance_html(merged) +
         table_html(merged) + unreadable_html(merged) + "</body>\n</html>\n";
}

}  // namespace oomtrace::report
