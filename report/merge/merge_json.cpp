// `oomtrace merge --format json`: schema oomtrace-merge/1 (docs/distributed.md).
#include <nlohmann/json.hpp>

#include "report/merge/merge.h"
#include "report/render/json_values.h"

namespace oomtrace::report {
namespace {

using json = nlohmann::ordered_json;

const char* rank_source_name(RankSource source) {
  return source == RankSource::Trace ? "trace" : "file_order";
}

json verdict_json(const std::optional<Verdict>& verdict) {
  return verdict ? json(verdict_name(*verdict)) : json(nullptr);
}

json time_json(const std::optional<uint64_t>& unix_ns) {
  if (!unix_ns) return nullptr;
  return {{"unix_ns", *unix_ns}, {"iso", iso_utc(*unix_ns)}};
}

json devices_json(const std::vector<MergedDevice>& devices) {
  json list = json::array();
  for (const MergedDevice& device : devices) {
    list.push_back({{"index", device.index},
                    {"name", or_null(device.name)},
                    {"total", or_null(device.total_bytes)},
                    {"peak_reserved", device.peak_reserved_bytes},
                    {"headroom", or_null(device.headroom_bytes)}});
  }
  return list;
}

json failure_json(const RankFailure& failure) {
  return {{"time", time_json(failure.unix_ns)},
          {"since_start_ns", failure.time_ns},
          {"api", std::string(api_name(failure.api))},
          {"device", failure.device},
          {"requested_bytes", failure.requested_bytes},
          {"verdict", verdict_json(failure.verdict)},
          {"explanation", failure.explanation}};
}

json rank_json(const MergedRank& rank) {
  return {{"rank", rank.rank},
          {"rank_source", rank_source_name(rank.rank_source)},
          {"local_rank", or_null(rank.local_rank)},
          {"world_size", or_null(rank.world_size)},
          {"host", rank.host},
          {"pid", or_null(rank.pid)},
          {"trace", rank.trace_path},
          {"devices", devices_json(rank.devices)},
          {"failed", rank.failure.has_value()},
          {"verdict", rank.failure ? verdict_json(rank.failure->verdict) : json(nullptr)},
          {"failure", rank.failure ? failure_json(*rank.failure) : json(nullptr)},
          {"recovered_failures", rank.recovered_failures},
          {"ended", rank.ended}};
}

json first_failure_json(const MergeReport& merged) {
  if (!merged.first_failure) return nullptr;
  const MergedRank& rank = merged.ranks[*merged.first_failure];
  const RankFailure& failure = *rank.failure;
  return {{"rank", rank.rank},
          {"rank_source", rank_source_name(rank.rank_source)},
          {"host", rank.host},
          {"pid", or_null(rank.pid)},
          {"time", time_json(failure.unix_ns)},
          {"device", failure.device},
          {"requested_bytes", failure.requested_bytes},
          {"verdict", verdict_json(failure.verdict)},
          {"explanation", failure.explanation},
          {"trace", rank.trace_path}};
}

json balance_json(const MergeReport& merged) {
  json outliers = json::array();
  for (const BalanceOutlier& outlier : merged.balance.outliers) {
    outliers.push_back({{"rank", merged.ranks[outlier.rank_index].rank},
                        {"device", outlier.device},
                        {"peak_reserved", outlier.peak_reserved_bytes},
                        {"median", outlier.median_bytes},
                        {"deviation", outlier.deviation}});
  }
  return {{"balanced", or_null(merged.balance.balanced)},
          {"rule", balance_rule()},
          {"tolerance", kBalanceTolerance},
          {"outliers", std::move(outliers)}};
}

}  // namespace

std::string render_merge_json(const MergeReport& merged) {
  json ranks = json::array();
  for (const MergedRank& rank : merged.ranks) ranks.push_back(rank_json(rank));
  json unreadable = json::array();
  for (const UnreadableTrace& trace : merged.unreadable) {
    unreadable.push_back({{"path", trace.path}, {"error", trace.error}});
  }
  json document = {{"schema", "oomtrace-merge/1"},
                   {"folder", merged.folder},
                   {"first_failure", first_failure_json(merged)},
                   {"ranks", std::move(ranks)},
                   {"balance", balance_json(merged)},
                   {"unreadable", std::move(unreadable)}};
  // Hosts, paths and messages come from the traces and may not be UTF-8.
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace oomtrace::report
