// `oomtrace merge` for a terminal: the first failure, a table of ranks and
// GPUs, the balance verdict, and what could not be read.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/common/format_bytes.h"
#include "report/common/text_wrap.h"
#include "report/merge/merge.h"

namespace oomtrace::report {
namespace {

std::string rank_label(const MergedRank& rank) {
  std::string label = "rank " + std::to_string(rank.rank);
  if (rank.rank_source == RankSource::FileOrder) label += " (no rank recorded: numbered by file order)";
  return label;
}

std::string where(const MergedRank& rank) {
  std::string text = rank.host.empty() ? std::string("an unknown host") : rank.host;
  if (rank.pid) text += " (pid " + std::to_string(*rank.pid) + ")";
  return text;
}

std::string verdict_text(const std::optional<Verdict>& verdict) {
  return verdict ? verdict_name(*verdict) : std::string("unknown");
}

std::string first_failure_section(const MergeReport& merged) {
  if (!merged.first_failure) {
    return "No rank ran out of GPU memory (" + std::to_string(merged.ranks.size()) + " traces read).\n";
  }
  const MergedRank& rank = merged.ranks[*merged.first_failure];
  const RankFailure& failure = *rank.failure;
  std::string when = failure.unix_ns ? iso_utc(*failure.unix_ns) : std::string("an unknown time (no process record)");
  size_t failed = std::count_if(merged.ranks.begin(), merged.ranks.end(),
                                [](const MergedRank& r) { return r.failure.has_value(); });
  std::string text = "First failure: " + rank_label(rank) + " on " + where(rank) + " at " + when + "\n";
  // A failure the framework raised (its own cap) made no CUDA call.
  std::string call = failure.api != Api::Unknown ? std::string(api_name(failure.api)) : "an allocation";
  text += "  " + call + " of " + format_bytes(failure.requested_bytes) + " on GPU " +
          std::to_string(failure.device) + "; " + std::to_string(failed) + " of " +
          std::to_string(merged.ranks.size()) + " ranks ran out of memory\n";
  text += "Verdict: " + verdict_text(failure.verdict) + "\n";
  text += wrap(failure.explanation, "Why: ");
  text += "Its report: oomtrace report " + rank.trace_path + "\n";
  return text;
}

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string rank_status(const MergedRank& rank) {
  if (rank.failure) return "OOM: " + verdict_text(rank.failure->verdict);
  std::string status = rank.ended;
  if (rank.recovered_failures > 0) status += ", recovered from " + std::to_string(rank.recovered_failures) + " OOM";
  return status;
}

std::string ranks_table(const MergeReport& merged) {
  std::vector<std::vector<std::string>> rows = {
      {"rank", "host", "pid", "GPU", "peak reserved", "total", "headroom", "status"}};
  for (const MergedRank& rank : merged.ranks) {
    std::string number = std::to_string(rank.rank) + (rank.rank_source == RankSource::FileOrder ? "?" : "");
    std::string pid = rank.pid ? std::to_string(*rank.pid) : "?";
    if (rank.devices.empty()) rows.push_back({number, rank.host, pid, "-", "-", "-", "-", rank_status(rank)});
    for (const MergedDevice& device : rank.devices) {
      rows.push_back({number, rank.host, pid, std::to_string(device.index), format_bytes(device.peak_reserved_bytes),
                      device.total_bytes ? format_bytes(*device.total_bytes) : "?",
                      device.headroom_bytes ? format_bytes(*device.headroom_bytes) : "?", rank_status(rank)});
    }
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) line += " " + (i + 1 < row.size() ? pad(row[i], widths[i]) : row[i]);
    text += line + "\n";
  }
  return text;
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.0f%%", share * 100);
  return text;
}

std::string balance_section(const MergeReport& merged) {
  const Balance& balance = merged.balance;
  std::string rule = "Rule: " + balance_rule() + ".";
  if (!balance.balanced) return wrap("Balance not judged: fewer than two GPUs of one kind. " + rule, "");
  if (*balance.balanced) return wrap("Balanced. " + rule, "");
  std::string text = wrap("Not balanced. " + rule + " Outliers:", "");
  for (const BalanceOutlier& outlier : balance.outliers) {
    const MergedRank& rank = merged.ranks[outlier.rank_index];
    text += "  rank " + std::to_string(rank.rank) + " GPU " + std::to_string(outlier.device) + ": " +
            format_bytes(outlier.peak_reserved_bytes) + ", " + percent(outlier.deviation) + " against the median " +
            format_bytes(outlier.median_bytes) + "\n";
  }
  return text;
}

std::string unreadable_section(const MergeReport& merged) {
  if (merged.unreadable.empty()) return {};
  std::string text = "\nUnreadable traces (" + std::to_string(merged.unreadable.size()) + "):\n";
  for (const UnreadableTrace& trace : merged.unreadable) text += wrap(trace.error, "  - ");
  return text;
}

}  // namespace

std::string render_merge_text(const MergeReport& merged) {
  std::string text = first_failure_section(merged);
  text += "\nPer rank (" + std::to_string(merged.ranks.size()) + " traces from " + merged.folder + "):\n";
  text += ranks_table(merged);
  bool any_file_order = std::any_of(merged.ranks.begin(), merged.ranks.end(),
                                    [](const MergedRank& r) { return r.rank_source == RankSource::FileOrder; });
  if (any_file_order) text += "  ? no rank recorded in the trace: numbered by its position in the folder\n";
  text += "\n" + balance_section(merged);
  text += unreadable_section(merged);
  return text;
}

}  // namespace oomtrace::report
