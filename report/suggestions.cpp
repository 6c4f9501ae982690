#include "report/suggestions.h"

#include <algorithm>
#include <cstdint>

#include "report/format_bytes.h"

namespace oomtrace::report {
namespace {

constexpr size_t kProcessesToStop = 5;
const std::string kExpandable = "expandable_segments:True";

std::string gpu_name(int device) {
  return device < 0 ? std::string("the host") : "GPU " + std::to_string(device);
}

bool stack_mentions(const FailureReport& failure, const std::string& needle) {
  for (const std::string& frame : failure.stack) {
    if (frame.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Expandable segments only help PyTorch's own caching allocator, and only
// when the user has not turned them on already.
std::optional<Suggestion> expandable_segments(const AllocatorSettings& settings, const std::string& why) {
  if (settings.expandable_segments || settings.async_backend) return std::nullopt;
  return Suggestion{with_option(settings, kExpandable),
                    why + "; expandable segments let PyTorch grow and shrink its segments in place "
                          "instead of keeping fixed-size blocks cached"};
}

void suggest_for_capacity(const FailureReport& f, std::vector<Suggestion>& out) {
  out.push_back({"split the request", "a single allocation of " + format_bytes(f.requested_bytes) +
                                          " cannot fit on a device of " + format_bytes(*f.device_total_bytes) +
                                          "; shard the tensor/model across devices or use a smaller dtype"});
}

void suggest_for_other_processes(const FailureReport& f, std::vector<Suggestion>& out) {
  size_t named = std::min(f.other_processes.size(), kProcessesToStop);
  for (size_t i = 0; i < named; ++i) {
    const OtherProcess& other = f.other_processes[i];
    out.push_back({"stop process " + std::to_string(other.pid),
                   "it holds " + format_bytes(other.used_bytes) + " on " + gpu_name(f.device)});
  }
  if (!f.nvml_known) {
    out.push_back({"nvidia-smi", "NVML was not available to name who holds the " +
                                     format_bytes(f.other_bytes.value_or(0)) + " outside this process on " +
                                     gpu_name(f.device) + "; nvidia-smi lists the processes"});
  }
  out.push_back({"CUDA_VISIBLE_DEVICES=<another GPU>",
                 gpu_name(f.device) + " is shared: " + format_bytes(f.other_bytes.value_or(0)) +
                     " of it was held outside this process; run on a GPU nobody else uses"});
}

void suggest_for_exhausted(const FailureReport& f, const AllocatorSettings& settings,
                           std::vector<Suggestion>& out) {
  if (auto percent = percent_to_cut(f)) {
    uint64_t shortfall = f.requested_bytes - *f.device_free_bytes;
    std::string reason = "the process held " + format_bytes(f.process_reserved_bytes) + " of " +
                         format_bytes(*f.device_total_bytes) + "; the request of " +
                         format_bytes(f.requested_bytes) + " needs " + format_bytes(shortfall) +
                         " more than was free; ";
    reason += *percent <= 100
                  ? "cutting live memory by at least " + std::to_string(*percent) + "% would let it fit"
                  : "even freeing all of it would not be enough, so the request itself must shrink";
    out.push_back({"reduce the batch size", reason});
  }
  if (auto hint = cached_memory_hint(f)) {
    if (auto suggestion = expandable_segments(settings, *hint)) out.push_back(*suggestion);
  }
}

void suggest_for_fragmentation(const FailureReport& f, const AllocatorSettings& settings,
                               std::vector<Suggestion>& out) {
  std::string why = "the largest free block (" + format_bytes(f.largest_free_block_bytes.value_or(0)) +
                    ") was smaller than the request of " + format_bytes(f.requested_bytes);
  if (auto suggestion = expandable_segments(settings, why)) out.push_back(*suggestion);
}

}  // namespace

std::optional<std::string> cached_memory_hint(const FailureReport& f) {
  if (f.recovered && f.released_after_bytes > 0) {
    return "after the failure the process released " + format_bytes(f.released_after_bytes) +
           " and retried, the sign of an allocator that keeps freed memory cached";
  }
  if (stack_mentions(f, "CachingAllocator") || stack_mentions(f, "libc10_cuda")) {
    return "the failed call came from PyTorch's caching allocator, which keeps freed memory cached";
  }
  return std::nullopt;
}

std::optional<uint64_t> percent_to_cut(const FailureReport& f) {
  if (!f.device_free_bytes || f.requested_bytes <= *f.device_free_bytes || f.process_reserved_bytes == 0) {
    return std::nullopt;
  }
  // Integer ceiling division, widened so a corrupt trace's huge figures
  // cannot wrap around into a small, plausible-looking percentage.
  unsigned __int128 shortfall = f.requested_bytes - *f.device_free_bytes;
  unsigned __int128 percent = (shortfall * 100 + f.process_reserved_bytes - 1) / f.process_reserved_bytes;
  return percent > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(percent);
}

std::vector<Suggestion> suggest(const FailureReport& f, const AllocatorSettings& settings) {
  std::vector<Suggestion> out;
  if (!f.verdict) return out;
  switch (*f.verdict) {
    case Verdict::ExceedsCapacity: suggest_for_capacity(f, out); break;
    case Verdict::OtherProcesses: suggest_for_other_processes(f, out); break;
    case Verdict::Exhausted: suggest_for_exhausted(f, settings, out); break;
    case Verdict::Fragmentation: suggest_for_fragmentation(f, settings, out); break;
  }
  return out;
}

}  // namespace oomtrace::report
