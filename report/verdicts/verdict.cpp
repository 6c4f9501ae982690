#include "report/verdicts/verdict.h"

#include <algorithm>

#include "report/common/format_bytes.h"
#include "report/verdicts/suggestions.h"

namespace oomtrace::report {
namespace {

constexpr size_t kProcessesNamed = 5;
// PyTorch's small-pool segment: what its message asks for when a request of
// 1 MiB or less found no room.
constexpr uint64_t kSmallPoolSegment = 2ull << 20;

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

// "15.32 GiB in 8 allocations (14.12 GiB allocated, 410.41 MiB cached but
// unallocated)", each part only when known.
std::string held_phrase(const FailureReport& f) {
  std::string text = format_bytes(f.process_reserved_bytes);
  if (f.process_segments > 0) text += " in " + allocations_phrase(f.process_segments);
  // Nothing cached says nothing the total does not.
  if (auto cached = cached_unallocated(f); cached && *cached > 0) {
    text += " (" + format_bytes(*f.process_allocated_bytes) + " allocated, " + format_bytes(*cached) +
            " cached but unallocated)";
  }
  return text;
}

// "cudaMalloc of 2.00 GiB"; from a message, which names no CUDA call,
// "request for 2.00 GiB".
std::string request_noun(const FailureReport& f) {
  if (f.api == Api::Unknown) return "request for " + format_bytes(f.requested_bytes);
  return std::string(api_name(f.api)) + " of " + format_bytes(f.requested_bytes);
}

std::string the_request(const FailureReport& f) { return "the " + request_noun(f); }

std::string outside_memory_sentence(const FailureReport& f) {
  std::string amount = format_bytes(f.other_bytes.value_or(0));
  if (!f.nvml_known) {
    return amount + " was held outside this process's allocations; that includes its CUDA context "
                    "and any other processes on the GPU (" +
           (f.from_message ? "the message does not list them)." : "NVML was not available to name them).");
  }
  if (f.other_processes.empty() && f.from_message) {
    return amount + " was held outside this process; NVML listed no other process, so it was held by "
                    "processes NVML cannot see (in another container) or by the driver.";
  }
  if (f.other_processes.empty()) {
    return amount + " was held outside this process's allocations; NVML listed no other process, "
                    "so it is this process's CUDA context or memory allocated before tracing began.";
  }
  std::string rest = f.from_message ? ", and what NVML does not list." : ", plus the CUDA context.";
  return amount + " was held outside this process's allocations: other processes, " +
         name_processes(f.other_processes) + rest;
}

std::string recovery_sentence(const FailureReport& f) {
  if (f.recovered) {
    return " The process recovered: a later allocation on " + gpu_name(f.device) +
           " succeeded (PyTorch frees its cache and retries), so this failure is not what stopped it.";
  }
  return " No later allocation on " + gpu_name(f.device) +
         " succeeded, so this failure is likely what stopped the process.";
}

std::string explain_exceeds_capacity(const FailureReport& f) {
  if (f.requested_bytes >= kNoDeviceHoldsBytes) {
    return "A single request for " + format_bytes(f.requested_bytes) +
           " or more was made: no GPU holds that much, so the size itself is wrong (a negative size that "
           "wrapped around, an overflowed product of dimensions, or a shape read from uninitialised memory).";
  }
  return "A single " + request_noun(f) + " was made, but " + gpu_name(f.device) + " has only " +
         format_bytes(*f.device_total_bytes) +
         " in total: no amount of freeing memory makes one allocation of that size fit.";
}

std::string explain_fragmentation(const FailureReport& f) {
  std::string text = "The process held " + format_bytes(f.process_reserved_bytes) + " but used only " +
                     format_bytes(*f.process_allocated_bytes) + " of it: " +
                     format_bytes(*cached_unallocated(f)) + " sat free in its allocator's cache, enough for " +
                     the_request(f) + ", yet ";
  if (f.largest_free_block_bytes) {
    text += "the largest free block was only " + format_bytes(*f.largest_free_block_bytes) + ".";
  } else {
    text += "no free block in the cache was large enough, and " + gpu_name(f.device) + " had only " +
            format_bytes(f.device_free_bytes.value_or(0)) + " free for a new segment.";
  }
  return text + " The free memory is fragmented into pieces too small for the request.";
}

std::string explain_other_processes(const FailureReport& f) {
  return gpu_name(f.device) + " has " + format_bytes(*f.device_total_bytes) + ". This process held only " +
         held_phrase(f) + ", while " + outside_memory_sentence(f) + " Only " +
         format_bytes(*f.device_free_bytes) + " was free when " + the_request(f) +
         " was made; without the memory held outside, the request would fit.";
}

std::string explain_exhausted(const FailureReport& f) {
  std::string text = "This process held " + held_phrase(f) + " of " + gpu_name(f.device) + "'s " +
                     format_bytes(*f.device_total_bytes) + "; ";
  if (f.requested_bytes > *f.device_free_bytes) {
    text += "only " + format_bytes(*f.device_free_bytes) + " was free when " + the_request(f) +
            " was made. The process's own memory filled the device.";
  } else {
    text += "the driver reported " + format_bytes(*f.device_free_bytes) + " free, barely more than " +
            the_request(f) + ": not all free memory can be allocated (the driver hands it out in whole "
            "pages and keeps some for itself), so the device was full.";
  }
  if (f.other_bytes.value_or(0) > 0) text += " Besides, " + outside_memory_sentence(f);
  return text;
}

std::string cap_phrase(CapKind kind) {
  switch (kind) {
    case CapKind::PyTorchMemoryFraction:
      return "A per-process memory fraction (torch.cuda.set_per_process_memory_fraction)";
    case CapKind::CuPyPoolLimit: return "CuPy's memory pool limit (CUPY_GPU_MEMORY_LIMIT or MemoryPool.set_limit)";
    case CapKind::XlaMemoryFraction: return "JAX's memory fraction (XLA_PYTHON_CLIENT_MEM_FRACTION)";
    case CapKind::TensorFlowHostLimit:
      return "TensorFlow's pinned host memory limit (TF_GPU_HOST_MEM_LIMIT_IN_MB, 64 GiB unless set)";
    case CapKind::PlatformBlockLimit: return "The platform's largest single allocation";
  }
  return "A cap";
}

std::string device_figures_clause(const FailureReport& f) {
  if (!f.device_total_bytes) return "";
  std::string text = gpu_name(f.device) + " has " + format_bytes(*f.device_total_bytes);
  if (f.device_free_bytes) text += ", of which " + format_bytes(*f.device_free_bytes) + " was free";
  return text;
}

std::string explain_limit(const FailureReport& f) {
  const MemoryCap& cap = *f.cap;
  std::string device = device_figures_clause(f);
  if (cap.kind == CapKind::PlatformBlockLimit) {
    return "The platform refuses any single allocation larger than " + format_bytes(cap.bytes) + ", and " +
           the_request(f) + " asked for more in one piece. It is not the device" +
           (device.empty() ? "" : ": " + device) + ", and the process held only " + held_phrase(f) + ".";
  }
  std::string text = cap_phrase(cap.kind) + " capped the process at " + format_bytes(cap.bytes) + ". It held " +
                     held_phrase(f) + ", and " + the_request(f) + " would have taken it past the cap, so the " +
                     "allocator refused before asking the device.";
  if (!device.empty()) text += " The cap, not the device, was the limit: " + device + ".";
  return text;
}

std::string explain_room(const FailureReport& f) {
  return gpu_name(f.device) + " reported " + format_bytes(*f.device_free_bytes) + " free, more than " +
         the_request(f) + ", and the process held " + held_phrase(f) + " of its " +
         format_bytes(*f.device_total_bytes) +
         ": by these figures the device was not full, so they do not show why the allocation failed. The free "
         "figure is read after the failure: memory given back in between, by the process's allocator or by "
         "another process, would look like this, and so would running out of host memory, which the driver "
         "needs too.";
}

std::string explain_unknown(const FailureReport& f) {
  std::string missing = f.device_total_bytes
                            ? "its free memory is unknown"
                            : "its total and free memory are unknown";
  return "The driver did not report " + gpu_name(f.device) +
         "'s memory at the failure (cuMemGetInfo did not answer), so " + missing +
         " and no verdict is possible. The process held " + held_phrase(f) + " when " + the_request(f) +
         " was made.";
}

// Memory outside this process is the cause only when it outweighs the
// process's own and removing it would have been enough.
bool other_processes_to_blame(const FailureReport& f) {
  uint64_t total = *f.device_total_bytes;
  uint64_t own = f.process_reserved_bytes;
  return f.other_bytes && *f.other_bytes > own && own <= total && f.requested_bytes <= total - own;
}

// Printed figures carry two decimals in a unit chosen to keep them at or
// above 1, so they are within 0.5% of the truth: compare within 1%.
bool over_cap(const FailureReport& f) {
  const MemoryCap& cap = *f.cap;
  if (cap.kind == CapKind::PlatformBlockLimit) return f.requested_bytes > cap.bytes;
  unsigned __int128 charge = static_cast<unsigned __int128>(f.process_reserved_bytes) + f.requested_bytes;
  return charge > cap.bytes - cap.bytes / 100;
}

bool cap_refused(const FailureReport& f) {
  if (!f.cap || !over_cap(f)) return false;
  if (f.cap->stated_by_failure) return true;
  return f.from_message && (!f.device_free_bytes || device_had_room(f));
}

bool fragmented(const FailureReport& f) {
  std::optional<uint64_t> cached = cached_unallocated(f);
  if (!cached || *cached < f.requested_bytes) return false;
  if (f.largest_free_block_bytes) return *f.largest_free_block_bytes < f.requested_bytes;
  return f.device_free_bytes && !device_had_room(f) && f.requested_bytes > kSmallPoolSegment;
}

}  // namespace

uint64_t memory_outside(uint64_t total, uint64_t free, uint64_t held) {
  uint64_t used = total > free ? total - free : 0;
  return used > held ? used - held : 0;
}

bool device_had_room(const FailureReport& f) {
  if (!f.device_free_bytes) return false;
  return *f.device_free_bytes >= f.requested_bytes && *f.device_free_bytes - f.requested_bytes >= kDriverSlackBytes;
}

std::optional<uint64_t> cached_unallocated(const FailureReport& f) {
  if (!f.process_allocated_bytes || *f.process_allocated_bytes > f.process_reserved_bytes) return std::nullopt;
  return f.process_reserved_bytes - *f.process_allocated_bytes;
}

std::optional<Verdict> decide_verdict(const FailureReport& f) {
  if (f.requested_bytes >= kNoDeviceHoldsBytes) return Verdict::ExceedsCapacity;
  if (f.device_total_bytes && f.requested_bytes > *f.device_total_bytes) return Verdict::ExceedsCapacity;
  if (cap_refused(f)) return Verdict::Limit;
  if (fragmented(f)) return Verdict::Fragmentation;
  if (!f.device_total_bytes || !f.device_free_bytes) return std::nullopt;
  if (device_had_room(f)) return std::nullopt;
  if (other_processes_to_blame(f)) return Verdict::OtherProcesses;
  return Verdict::Exhausted;
}

std::string explain_cause(const FailureReport& f) {
  if (!f.verdict) {
    bool figures_known = f.device_total_bytes && f.device_free_bytes;
    return figures_known ? explain_room(f) : explain_unknown(f);
  }
  switch (*f.verdict) {
    case Verdict::ExceedsCapacity: return explain_exceeds_capacity(f);
    case Verdict::Fragmentation: return explain_fragmentation(f);
    case Verdict::OtherProcesses: return explain_other_processes(f);
    case Verdict::Exhausted: return explain_exhausted(f);
    case Verdict::Limit: return explain_limit(f);
  }
  return "";
}

std::string explain(const FailureReport& f) {
  std::string text = explain_cause(f);
  return f.from_message ? text : text + recovery_sentence(f);
}

void judge(FailureReport& failure, const AllocatorSettings& settings) {
  if (!failure.cap) failure.cap = settings_cap(settings, failure.device_total_bytes);
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
    case Verdict::Limit: return "limit";
  }
  return "unknown";
}

std::string cap_kind_name(CapKind kind) {
  switch (kind) {
    case CapKind::PyTorchMemoryFraction: return "pytorch_memory_fraction";
    case CapKind::CuPyPoolLimit: return "cupy_pool_limit";
    case CapKind::XlaMemoryFraction: return "xla_memory_fraction";
    case CapKind::TensorFlowHostLimit: return "tensorflow_host_limit";
    case CapKind::PlatformBlockLimit: return "platform_block_limit";
  }
  return "unknown";
}

}  // namespace oomtrace::report
