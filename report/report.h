// What a trace says, worked out once by analyze() and rendered as JSON or
// text. Plain data: renderers only read it, so both formats always agree.
// std::nullopt means "unknown", never zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocator/api.h"

namespace oomtrace::report {

struct ProcessSummary {
  std::optional<uint32_t> pid;
  std::string host;
  std::string executable;
  std::vector<std::string> argv;
};

struct DeviceSummary {
  int index = 0;
  std::optional<std::string> name;
  std::optional<uint64_t> total_bytes;
  uint64_t peak_reserved_bytes = 0;
};

struct Totals {
  uint64_t allocations = 0;
  uint64_t frees = 0;
  uint64_t failed_allocations = 0;
  uint64_t unmatched_frees = 0;
};

struct HostPinned {
  uint64_t peak_bytes = 0;
  uint64_t live_bytes = 0;
};

struct OtherProcess {
  uint32_t pid = 0;
  uint64_t used_bytes = 0;
};

struct Suggestion {
  std::string setting;
  std::string reason;
};

enum class Verdict {
  ExceedsCapacity,
  Fragmentation,
  OtherProcesses,
  Exhausted,
};

struct FailureReport {
  Api api = Api::Unknown;
  int device = 0;
  std::optional<std::string> device_name;
  uint64_t requested_bytes = 0;
  std::optional<uint64_t> device_total_bytes;
  std::optional<uint64_t> device_free_bytes;
  uint64_t process_reserved_bytes = 0;
  uint32_t process_segments = 0;
  // The framework's sub-allocations inside its segments: invisible at the
  // driver level, kept so a framework-aware source can fill it later.
  std::optional<uint64_t> process_allocated_bytes;
  std::optional<uint64_t> other_bytes;  // total - free - process_reserved
  bool nvml_known = false;
  std::vector<OtherProcess> other_processes;
  std::optional<uint64_t> largest_free_block_bytes;
  std::optional<double> fragmentation;
  bool recovered = false;
  // Bytes the process gave back between the failure and its next successful
  // allocation on the device: a caching allocator emptying its cache.
  uint64_t released_after_bytes = 0;

  std::optional<Verdict> verdict;
  std::string explanation;
  std::vector<Suggestion> suggestions;

  std::vector<std::string> stack;  // innermost first
  uint64_t time_ns = 0;
  uint32_t thread = 0;
};

struct LiveAllocationSummary {
  Api api = Api::Unknown;
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t time_ns = 0;
  uint32_t thread = 0;
  std::vector<std::string> stack;
};

struct LiveOnDevice {
  int device = 0;
  uint64_t bytes = 0;
  uint64_t count = 0;
  std::vector<LiveAllocationSummary> top;  // largest first, at most kTopLive
};

inline constexpr size_t kTopLive = 10;

struct TraceSummary {
  std::string path;  // absolute when it could be made so
  bool complete = false;
  std::optional<std::string> exit_reason;
  uint64_t events = 0;
  std::string format_version;
  std::string description;  // how the trace ended, in words
};

struct SettingEntry {
  std::string key;
  std::string value;
};

struct Report {
  ProcessSummary process;
  std::vector<DeviceSummary> devices;
  Totals totals;
  HostPinned host_pinned;
  std::vector<FailureReport> failures;  // in call order
  std::vector<LiveOnDevice> live_at_end;
  TraceSummary trace;
  std::vector<SettingEntry> settings;
  std::vector<std::string> notes;
};

std::string verdict_name(Verdict verdict);

}  // namespace oomtrace::report
