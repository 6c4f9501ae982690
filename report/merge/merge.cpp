#include "report/merge/merge.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "report/analysis/analysis.h"
#include "trace/format.h"
#include "trace/reader.h"

namespace oomtrace::report {
namespace {

namespace fs = std::filesystem;

bool starts_with_trace_magic(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  char head[sizeof trace::kMagic] = {};
  return file.read(head, sizeof head) && std::memcmp(head, trace::kMagic, sizeof head) == 0;
}

bool looks_like_trace(const fs::directory_entry& entry) {
  std::error_code error;
  if (!entry.is_regular_file(error)) return false;
  return entry.path().extension() == ".trace" || starts_with_trace_magic(entry.path());
}

// The failure that stopped the process, as the text report ranks them: the
// last one after which nothing on its device succeeded.
const FailureReport* stopping_failure(const Report& report) {
  const FailureReport* found = nullptr;
  for (const FailureReport& failure : report.failures) {
    if (!failure.recovered) found = &failure;
  }
  return found;
}

std::vector<MergedDevice> merged_devices(const Report& report) {
  std::vector<MergedDevice> devices;
  for (const DeviceSummary& summary : report.devices) {
    if (summary.index < 0) continue;  // host-pinned memory is no GPU's
    MergedDevice device;
    device.index = summary.index;
    device.name = summary.name;
    device.total_bytes = summary.total_bytes;
    device.peak_reserved_bytes = summary.peak_reserved_bytes;
    if (summary.total_bytes) {
      device.headroom_bytes = *summary.total_bytes > summary.peak_reserved_bytes
                                  ? *summary.total_bytes - summary.peak_reserved_bytes
                                  : 0;
    }
    devices.push_back(device);
  }
  return devices;
}

MergedRank merged_rank(const trace::Trace& trace, const Report& report) {
  MergedRank rank;
  rank.rank_source = report.process.rank ? RankSource::Trace : RankSource::FileOrder;
  rank.rank = report.process.rank.value_or(0);
  rank.local_rank = report.process.local_rank;
  rank.world_size = report.process.world_size;
  rank.host = report.process.host;
  rank.pid = report.process.pid;
  rank.trace_path = report.trace.path;
  if (trace.process) rank.start_unix_ns = trace.process->start_unix_ns;
  rank.devices = merged_devices(report);
  if (const FailureReport* failure = stopping_failure(report)) {
    RankFailure stopped;
    stopped.time_ns = failure->time_ns;
    if (rank.start_unix_ns) stopped.unix_ns = *rank.start_unix_ns + failure->time_ns;
    stopped.api = failure->api;
    stopped.device = failure->device;
    stopped.requested_bytes = failure->requested_bytes;
    stopped.verdict = failure->verdict;
    stopped.explanation = failure->explanation;
    rank.failure = stopped;
  }
  for (const FailureReport& failure : report.failures) rank.recovered_failures += failure.recovered ? 1 : 0;
  if (report.trace.complete) {
    rank.ended = report.trace.exit_reason && !report.trace.exit_reason->empty() ? *report.trace.exit_reason
                                                                                  : "exit (reason unknown)";
  } else {
    rank.ended = "killed (trace cut short)";
  }
  return rank;
}

// Earliest by wall clock; a failure whose wall clock is unknown (a trace
// without its process record) sorts after every known one.
std::optional<size_t> earliest_failure(const std::vector<MergedRank>& ranks) {
  std::optional<size_t> first;
  auto key = [&](size_t i) {
    const RankFailure& failure = *ranks[i].failure;
    return std::make_tuple(!failure.unix_ns.has_value(), failure.unix_ns.value_or(0), i);
  };
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (!ranks[i].failure) continue;
    if (!first || key(i) < key(*first)) first = i;
  }
  return first;
}

uint64_t median_of(std::vector<uint64_t> values) {
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return values[middle - 1] / 2 + values[middle] / 2 + (values[middle - 1] % 2 + values[middle] % 2) / 2;
}

// GPUs are compared only with GPUs of the same kind: the same name and
// capacity (a job may mix an 80 GiB and a 40 GiB model).
struct DeviceKind {
  std::string name;
  uint64_t total_bytes = 0;
  auto operator<=>(const DeviceKind&) const = default;
};

struct DeviceEntry {
  size_t rank_index = 0;
  const MergedDevice* device = nullptr;
};

}  // namespace

std::string balance_rule() {
  return "balanced when every rank's peak reserved memory is within " +
         std::to_string(static_cast<int>(kBalanceTolerance * 100)) +
         "% of the median across ranks on the same kind of GPU (same name and capacity)";
}

Balance judge_balance(const std::vector<MergedRank>& ranks) {
  std::vector<std::pair<DeviceKind, std::vector<DeviceEntry>>> kinds;
  for (size_t i = 0; i < ranks.size(); ++i) {
    for (const MergedDevice& device : ranks[i].devices) {
      DeviceKind kind{device.name.value_or(""), device.total_bytes.value_or(0)};
      auto group = std::find_if(kinds.begin(), kinds.end(), [&](const auto& entry) { return entry.first == kind; });
      if (group == kinds.end()) {
        kinds.emplace_back(kind, std::vector<DeviceEntry>{});
        group = kinds.end() - 1;
      }
      group->second.push_back({i, &device});
    }
  }
  Balance balance;
  for (const auto& [kind, entries] : kinds) {
    if (entries.size() < 2) continue;
    std::vector<uint64_t> peaks;
    for (const DeviceEntry& entry : entries) peaks.push_back(entry.device->peak_reserved_bytes);
    uint64_t median = median_of(peaks);
    balance.balanced = balance.balanced.value_or(true);
    for (const DeviceEntry& entry : entries) {
      uint64_t peak = entry.device->peak_reserved_bytes;
      double deviation = median == 0 ? (peak == 0 ? 0.0 : 1.0)
                                     : (static_cast<double>(peak) - static_cast<double>(median)) / static_cast<double>(median);
      if (std::abs(deviation) <= kBalanceTolerance) continue;
      balance.balanced = false;
      balance.outliers.push_back({entry.rank_index, entry.device->index, peak, median, deviation});
    }
  }
  return balance;
}

std::optional<std::vector<std::string>> find_trace_files(const std::string& folder, std::string* error) {
  std::error_code failure;
  if (!fs::is_directory(folder, failure)) {
    *error = folder + " is not a folder" + (failure ? " (" + failure.message() + ")" : std::string());
    return std::nullopt;
  }
  std::vector<std::string> paths;
  fs::directory_iterator listing(folder, failure);
  for (; !failure && listing != fs::directory_iterator(); listing.increment(failure)) {
    if (looks_like_trace(*listing)) paths.push_back(listing->path().string());
  }
  if (failure) {
    *error = "cannot list " + folder + ": " + failure.message();
    return std::nullopt;
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

MergeReport merge_traces(const std::string& folder, const std::vector<std::string>& trace_paths,
                         const MergeProgress& progress) {
  MergeReport merged;
  merged.folder = folder;
  for (size_t i = 0; i < trace_paths.size(); ++i) {
    if (progress) progress(i, trace_paths.size(), trace_paths[i]);
    trace::ReadResult read = trace::read_trace(trace_paths[i]);
    if (!read.trace) {
      merged.unreadable.push_back({trace_paths[i], read.error});
      continue;
    }
    MergedRank rank = merged_rank(*read.trace, analyze(*read.trace));
    if (rank.rank_source == RankSource::FileOrder) rank.rank = static_cast<uint32_t>(i);
    merged.ranks.push_back(std::move(rank));
  }
  if (progress) progress(trace_paths.size(), trace_paths.size(), {});
  std::stable_sort(merged.ranks.begin(), merged.ranks.end(), [](const MergedRank& a, const MergedRank& b) {
    return std::make_tuple(a.rank, a.pid.value_or(0), a.trace_path) <
           std::make_tuple(b.rank, b.pid.value_or(0), b.trace_path);
  });
  merged.first_failure = earliest_failure(merged.ranks);
  merged.balance = judge_balance(merged.ranks);
  return merged;
}

std::string iso_utc(uint64_t unix_ns) {
  time_t seconds = static_cast<time_t>(unix_ns / 1000000000ull);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%09lluZ",
                static_cast<unsigned long long>(unix_ns % 1000000000ull));
  return text;
}

}  // namespace oomtrace::report
