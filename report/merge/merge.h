// `oomtrace merge`: the traces of every rank of a distributed job, copied
// into one folder, read and analysed together: which rank failed first and
// why, what each rank peaked at on each GPU, and whether the ranks used
// their GPUs evenly.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "report/verdicts/report.h"

namespace oomtrace::report {

struct MergedDevice {
  int index = 0;
  std::optional<std::string> name;
  std::optional<uint64_t> total_bytes;
  uint64_t peak_reserved_bytes = 0;
  std::optional<uint64_t> headroom_bytes;  // total - peak; unknown without a total
};

// Where a rank's number came from.
enum class RankSource {
  Trace,      // the launcher's environment, recorded in the trace
  FileOrder,  // the trace has none: its position among the folder's traces
};

// The failure that stopped a rank: the one the report puts first (the last
// that nothing on its device succeeded after).
struct RankFailure {
  std::optional<uint64_t> unix_ns;  // wall clock: the process's start + the failure's time
  uint64_t time_ns = 0;             // since the trace began
  Api api = Api::Unknown;
  int device = 0;
  uint64_t requested_bytes = 0;
  std::optional<Verdict> verdict;
  std::string explanation;
};

struct MergedRank {
  uint32_t rank = 0;
  RankSource rank_source = RankSource::Trace;
  std::optional<uint32_t> local_rank;
  std::optional<uint32_t> world_size;
  std::string host;
  std::optional<uint32_t> pid;
  std::string trace_path;
  std::optional<uint64_t> start_unix_ns;
  std::vector<MergedDevice> devices;
  std::optional<RankFailure> failure;  // nullopt: no unrecovered out-of-memory failure
  size_t recovered_failures = 0;       // failures it survived
  std::string ended;                   // how the trace ended, in words
};

struct UnreadableTrace {
  std::string path;
  std::string error;
};

// One (rank, GPU) whose peak reserved is far from the median of its kind.
struct BalanceOutlier {
  size_t rank_index = 0;  // into MergeReport::ranks
  int device = 0;
  uint64_t peak_reserved_bytes = 0;
  uint64_t median_bytes = 0;
  double deviation = 0;  // (peak - median) / median, signed
};

struct Balance {
  // nullopt: fewer than two GPUs of one kind to compare.
  std::optional<bool> balanced;
  std::vector<BalanceOutlier> outliers;
};

// Peak reserved counts as balanced within this share of the median.
inline constexpr double kBalanceTolerance = 0.10;
// The rule, in words, for every renderer.
std::string balance_rule();

struct MergeReport {
  std::string folder;
  std::vector<MergedRank> ranks;  // by rank, then pid
  std::vector<UnreadableTrace> unreadable;
  std::optional<size_t> first_failure;  // index into ranks
  Balance balance;
};

// The files in folder that are traces: named *.trace, or starting with the
// trace magic (a trace renamed when copied off its host). Sorted by name.
// nullopt with *error set when the folder cannot be listed.
std::optional<std::vector<std::string>> find_trace_files(const std::string& folder, std::string* error);

// Told before each file is read: how many are done, how many in all, and
// the one about to be read (for a progress bar).
using MergeProgress = std::function<void(size_t done, size_t total, const std::string& path)>;

MergeReport merge_traces(const std::string& folder, const std::vector<std::string>& trace_paths,
                         const MergeProgress& progress = {});

// Works out the balance of ranks already merged; exposed for tests.
Balance judge_balance(const std::vector<MergedRank>& ranks);

// "2026-12-03T15:21:01.123456789Z".
std::string iso_utc(uint64_t unix_ns);

std::string render_merge_text(const MergeReport& merged);
std::string render_merge_json(const MergeReport& merged);
std::string render_merge_html(const MergeReport& merged);

}  // namespace oomtrace::report
