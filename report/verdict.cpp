#include "report/verdict.h"

#include <algorithm>

#include "report/format_bytes.h"
#include "report/suggestions.h"

namespace oomtrace::report {
namespace {

constexpr size_t kProcessesNamed = 5;

std::string gpu_name(int device) {
  return device < 0 ? std::string("host memory") : "GPU " + std::to_string(device);
}

std::string allocations_phrase(uint32_t count) {
  return std::to_string(count) + (count == 1 ? " allocation" : " allocations");
}

// "pid 4242 (12.00 GiB), pid 4243 (1.00 GiB) and 3 more"
std::string name_processes(const std::vector<OtherProcess>& processes) {
  std::string text;
  size_t named = std::min(processes.size(), kProcessesNamed);
  for (size_t i = 0; i < named; ++i) {
    if (i > 0) text += i + 1 == named && named == processes.size() ? " and " : ", ";
    text += "pid " + std::to_string(processes[i].pid) + " (" + format_bytes(processes[i].used_bytes) + ")";
  }
  if (processes.size() > named) text += " and " + std::to_string(processes.size() - named) + " more";
  return text;
}

// Where the memory outside this process went, as far as the trace knows.
std::string outside_memory_sentence(const FailureReport& f) {
  std::string amount = format_bytes(f.other_bytes.value_or(0));
  if (!f.nvml_known) {
    return amount + " was held outside this process's allocations; that includes its CUDA context "
                    "and any other processes on the GPU (NVML was not available to name them).";
  }
  if (f.other_processes.empty()) {
    return amount + " was held outside this process's allocations; NVML listed no other process, "
                    "so it is this process's CUDA context or memory allocated before tracing began.";
  }
  return amount + " was held outside this process's allocations: other processes, " +
         name_processes(f.other_processes) + ", plus the CUDA context.";
}

std::string recovery_sentence(const FailureReport& f) {
  if (f.recovered) {
    return " The process recovered: a later allocation on " + gpu_name(f.device) +
           " succeeded (PyTorch frees its cache and retries), so this failure is not what stopped it.";
  }
  return " No later allocation on " + gpu_name(f.device) +
         " succeeded, so this failure is likely what stopped the process.";
}

std::string request_phrase(const FailureReport& f) {
  return std::string(api_name(f.api)) + " of " + format_bytes(f.requested_bytes);
}

std::string explain_exceeds_capacity(const FailureReport& f) {
  return "A single " + request_phrase(f) + " was asked for, but " + gpu_name(f.device) + " has only " +
         format_bytes(*f.device_total_bytes) +
         " in total: no amount of freeing memory makes one allocation of that size fit.";
}

std::string explain_fragmentation(const FailureReport& f) {
  uint64_t cached = f.process_reserved_bytes - *f.process_allocated_bytes;
  return "The process held " + format_bytes(f.process_reserved_bytes) + " but used only " +
         format_bytes(*f.process_allocated_bytes) + " of it: " + format_bytes(cached) +
         " sat free in its allocator's cache, enough for the " + request_phrase(f) +
         ", yet the largest free block was only " + format_bytes(*f.largest_free_block_bytes) +
         ". The free memory is fragmented into pieces too small for the request.";
}

std::string explain_other_processes(const FailureReport& f) {
  return gpu_name(f.device) + " has " + format_bytes(*f.device_total_bytes) + ". This process held only " +
         format_bytes(f.process_reserved_bytes) + " in " + allocations_phrase(f.process_segments) + ", while " +
         outside_memory_sentence(f) + " Only " + format_bytes(*f.device_free_bytes) + " was free when " +
         request_phrase(f) + " was asked for; without the memory held outside, the request would fit.";
}

std::string explain_exhausted(const FailureReport& f) {
  std::string text = "This process held " + format_bytes(f.process_reserved_bytes) + " of " +
                     gpu_name(f.device) + "'s " + format_bytes(*f.device_total_bytes) + " in " +
                     allocations_phrase(f.process_segments) + "; ";
  if (f.requested_bytes > *f.device_free_bytes) {
    text += "only " + format_bytes(*f.device_free_bytes) + " was free when " + request_phrase(f) +
            " was asked for. The process's own memory filled the device.";
  } else {
    text += "the driver reported " + format_bytes(*f.device_free_bytes) + " free, no less than the " +
            request_phrase(f) + ", so the free memory was split into pieces too small for it, or "
            "another thread or process took it before it was measured.";
  }
  if (f.other_bytes.value_or(0) > 0) text += " Besides, " + outside_memory_sentence(f);
  return text;
}

std::string explain_unknown(const FailureReport& f) {
  std::string missing = f.device_total_bytes
                            ? "its free memory is unknown"
                            : "its total and free memory are unknown";
  return "The driver did not report " + gpu_name(f.device) +
         "'s memory at the failure (cuMemGetInfo did not answer), so " + missing +
         " and no verdict is possible. The process held " + format_bytes(f.process_reserved_bytes) +
         " in " + allocations_phrase(f.process_segments) + " when " + request_phrase(f) + " was asked for.";
}

// Memory outside this process is the cause only when it outweighs the
// process's own and removing it would have been enough.
bool other_processes_to_blame(const FailureReport& f) {
  uint64_t total = *f.device_total_bytes;
  uint64_t own = f.process_reserved_bytes;
  return f.other_bytes && *f.other_bytes > own && own <= total && f.requested_bytes <= total - own;
}

}  // namespace

std::optional<Verdict> decide_verdict(const FailureReport& f) {
  if (f.device_total_bytes && f.requested_bytes > *f.device_total_bytes) return Verdict::ExceedsCapacity;
  if (f.process_allocated_bytes && f.largest_free_block_bytes &&
      f.process_reserved_bytes >= *f.process_allocated_bytes &&
      f.process_reserved_bytes - *f.process_allocated_bytes >= f.requested_bytes &&
      *f.largest_free_block_bytes < f.requested_bytes) {
    return Verdict::Fragmentation;
  }
  if (!f.device_total_bytes || !f.device_free_bytes) return std::nullopt;
  if (other_processes_to_blame(f)) return Verdict::OtherProcesses;
  return Verdict::Exhausted;
}

std::string explain(const FailureReport& f) {
  std::string text;
  if (!f.verdict) {
    text = explain_unknown(f);
  } else {
    switch (*f.verdict) {
      case Verdict::ExceedsCapacity: text = explain_exceeds_capacity(f); break;
      case Verdict::Fragmentation: text = explain_fragmentation(f); break;
      case Verdict::OtherProcesses: text = explain_other_processes(f); break;
      case Verdict::Exhausted: text = explain_exhausted(f); break;
    }
  }
  return text + recovery_sentence(f);
}

void judge(FailureReport& failure, const AllocatorSettings& settings) {
  failure.verdict = decide_verdict(failure);
  failure.explanation = explain(failure);
  failure.suggestions = suggest(failure, settings);
}

std::string verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::ExceedsCapacity: return "exceeds_capacity";
    case Verdict::Fragmentation: return "fragmentation";
    case Verdict::OtherProcesses: return "other_processes";
    case Verdict::Exhausted: return "exhausted";
  }
  return "unknown";
}

}  // namespace oomtrace::report
