#include "report/verdicts/suggestions.h"

#include <algorithm>
#include <cstdint>

#include "report/common/format_bytes.h"
#include "report/verdicts/suggestions_internal.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report {
namespace {

constexpr size_t kProcessesToStop = 5;
constexpr uint64_t kMiB = 1ull << 20;
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

uint64_t live_memory(const FailureReport& f) { return f.process_allocated_bytes.value_or(f.process_reserved_bytes); }

// "the step needs about X more; live memory is Y; cut the batch by at least Z%"
std::optional<Suggestion> batch_cut(const FailureReport& f) {
  std::optional<uint64_t> percent = percent_to_cut(f);
  if (!percent) return std::nullopt;
  uint64_t shortfall = f.requested_bytes - *f.device_free_bytes;
  std::string reason = "the step needs about " + format_bytes(shortfall) + " more; live memory is " +
                       format_bytes(live_memory(f)) + "; ";
  if (*percent > 100) {
    return Suggestion{"shrink the request", reason + "even freeing all of it would not be enough, so the "
                                                     "request of " + format_bytes(f.requested_bytes) +
                                                     " itself must shrink (a smaller batch or sequence, or "
                                                     "a smaller dtype)"};
  }
  reason += "cut the batch by at least " + std::to_string(*percent) + "% (the request of " +
            format_bytes(f.requested_bytes) + " found only " + format_bytes(*f.device_free_bytes) +
            " free; weights and optimizer state do not shrink with the batch, so the cut may need to be larger)";
  return Suggestion{"reduce the batch size", reason};
}

// Several other processes each holding about the same few hundred MiB on
// this GPU: CUDA contexts, the mark of other ranks touching a GPU that is
// not theirs (a torch.cuda call before torch.cuda.set_device).
std::optional<Suggestion> rank_contexts(const FailureReport& f) {
  const std::vector<OtherProcess>& others = f.other_processes;
  if (others.size() < 2) return std::nullopt;
  auto by_use = [](const OtherProcess& a, const OtherProcess& b) { return a.used_bytes < b.used_bytes; };
  auto [smallest, largest] = std::minmax_element(others.begin(), others.end(), by_use);
  bool context_sized = smallest->used_bytes >= 100 * kMiB && largest->used_bytes <= 1024 * kMiB;
  bool alike = largest->used_bytes - smallest->used_bytes <= smallest->used_bytes / 10;
  if (!context_sized || !alike) return std::nullopt;
  return Suggestion{"torch.cuda.set_device(local_rank) before any CUDA work in each rank",
                    std::to_string(others.size()) + " other processes each hold about " +
                        format_bytes(largest->used_bytes) + " on " + gpu_name(f.device) +
                        ", the size of a CUDA context: other ranks created one on this GPU; each rank should "
                        "touch only its own GPU (or run with CUDA_VISIBLE_DEVICES set to it)"};
}

void suggest_for_capacity(const FailureReport& f, std::vector<Suggestion>& out) {
  if (f.requested_bytes >= kNoDeviceHoldsBytes || !f.device_total_bytes) {
    out.push_back({"check how the size is computed",
                   "a request for " + format_bytes(f.requested_bytes) +
                       " or more is larger than any GPU: print the shape and dtype of the tensor being "
                       "created; a negative dimension or an integer overflow gives sizes like this"});
    return;
  }
  out.push_back({"split the request", "a single allocation of " + format_bytes(f.requested_bytes) +
                                          " cannot fit on a device of " + format_bytes(*f.device_total_bytes) +
                                          "; shard the tensor/model across devices or use a smaller dtype"});
}

void suggest_stopping_others(const FailureReport& f, std::vector<Suggestion>& out) {
  std::vector<OtherProcess> others = f.other_processes;
  std::stable_sort(others.begin(), others.end(),
                   [](const OtherProcess& a, const OtherProcess& b) { return a.used_bytes > b.used_bytes; });
  size_t named = std::min(others.size(), kProcessesToStop);
  for (size_t i = 0; i < named; ++i) {
    out.push_back({"stop process " + std::to_string(others[i].pid),
                   "it holds " + format_bytes(others[i].used_bytes) + " on " + gpu_name(f.device)});
  }
}

void suggest_for_other_processes(const FailureReport& f, std::vector<Suggestion>& out) {
  suggest_stopping_others(f, out);
  if (auto ranks = rank_contexts(f)) out.push_back(*ranks);
  if (!f.nvml_known) {
    std::string unnamed = f.from_message ? "the message does not name" : "NVML was not available to name";
    out.push_back({"nvidia-smi", unnamed + " who holds the " + format_bytes(f.other_bytes.value_or(0)) +
                                     " outside this process on " + gpu_name(f.device) +
                                     "; nvidia-smi lists the processes"});
  }
  out.push_back({"CUDA_VISIBLE_DEVICES=<another GPU>",
                 gpu_name(f.device) + " is shared: " + format_bytes(f.other_bytes.value_or(0)) +
                     " of it was held outside this process; run on a GPU nobody else uses"});
}

// In an exhausted device, other processes are worth stopping only when what
// they hold covers what the request lacked.
void suggest_others_covering_shortfall(const FailureReport& f, std::vector<Suggestion>& out) {
  if (!f.device_free_bytes || f.requested_bytes <= *f.device_free_bytes) return;
  uint64_t shortfall = f.requested_bytes - *f.device_free_bytes;
  uint64_t others_total = 0;
  for (const OtherProcess& other : f.other_processes) others_total += other.used_bytes;
  if (f.other_processes.empty() || others_total < shortfall) return;
  std::string pids;
  for (const OtherProcess& other : f.other_processes) pids += (pids.empty() ? "" : ", ") + std::to_string(other.pid);
  out.push_back({"stop the other processes on " + gpu_name(f.device) + " (pid " + pids + ")",
                 "together they hold " + format_bytes(others_total) + ", more than the " + format_bytes(shortfall) +
                     " the request lacked"});
}

// Where the stack shows what the memory was for, PyTorch's own remedies.
void suggest_from_stack(const FailureReport& f, std::vector<Suggestion>& out) {
  bool backward = stack_mentions(f, "autograd::Engine") || stack_mentions(f, "backward") ||
                  stack_mentions(f, "Backward");
  if (backward) {
    out.push_back({"activation checkpointing (torch.utils.checkpoint)",
                   "the failing allocation was made during the backward pass (autograd frames in its stack): "
                   "the activations kept for backward fill memory, and checkpointing recomputes them instead"});
    out.push_back({"mixed precision: torch.autocast(device_type=\"cuda\", dtype=torch.bfloat16)",
                   "halves the memory of the activations kept for the backward pass"});
  } else if (stack_mentions(f, "forward")) {
    out.push_back({"torch.inference_mode()",
                   "the failing allocation was made in a forward pass with no backward frames in its stack; if "
                   "this is evaluation or inference, torch.inference_mode() keeps no activations for backward"});
  }
}

void suggest_framework_reservations(const FailureReport& f, const AllocatorSettings& settings,
                                    const std::string& family, std::vector<Suggestion>& out) {
  if (family == "jax" && settings.xla_preallocate.value_or(true)) {
    out.push_back({"XLA_PYTHON_CLIENT_PREALLOCATE=false",
                   "JAX takes 75% of the GPU at start-up (XLA_PYTHON_CLIENT_MEM_FRACTION) for its own pool; "
                   "allocations outside that pool, by cuDNN, NCCL or another library on " + gpu_name(f.device) +
                       ", get only the rest"});
  }
  if (family == "tensorflow" && !settings.tf_allow_growth) {
    out.push_back({"TF_FORCE_GPU_ALLOW_GROWTH=true",
                   "TensorFlow takes nearly all of the GPU at start-up unless told to grow; allocations outside "
                   "its pool get only the rest"});
  }
}

void suggest_for_exhausted(const FailureReport& f, const AllocatorSettings& settings, const std::string& family,
                           std::vector<Suggestion>& out) {
  if (auto batch = batch_cut(f)) out.push_back(*batch);
  suggest_others_covering_shortfall(f, out);
  if (auto ranks = rank_contexts(f)) out.push_back(*ranks);
  if (family == "pytorch" || family.empty()) suggest_from_stack(f, out);
  suggest_framework_reservations(f, settings, family, out);
  if (auto hint = cached_memory_hint(f)) {
    if (auto suggestion = expandable_segments(settings, *hint)) out.push_back(*suggestion);
  }
}

void suggest_pytorch_fragmentation(const FailureReport& f, const AllocatorSettings& settings,
                                   std::vector<Suggestion>& out) {
  std::string why = f.largest_free_block_bytes
                        ? "the largest free block (" + format_bytes(*f.largest_free_block_bytes) +
                              ") was smaller than the request of " + format_bytes(f.requested_bytes)
                        : "the cache held " + format_bytes(cached_unallocated(f).value_or(0)) +
                              " free, but in no piece as large as the request of " + format_bytes(f.requested_bytes);
  if (auto suggestion = expandable_segments(settings, why)) out.push_back(*suggestion);
  // max_split_size does not act on expandable segments; cudaMallocAsync
  // has no blocks to split.
  if (settings.expandable_segments || settings.async_backend) return;
  std::optional<uint64_t> mb = max_split_size_mb_for(f);
  if (!mb || (settings.max_split_size_bytes && *settings.max_split_size_bytes <= *mb * kMiB)) return;
  out.push_back({with_option(settings, "max_split_size_mb:" + std::to_string(*mb)),
                 "blocks of " + std::to_string(*mb) + " MiB or more are then never split for smaller requests, so "
                 "a request of " + format_bytes(f.requested_bytes) + " finds one whole; use it instead of "
                 "expandable segments, not with them (the two together crashed in some versions, pytorch#123548)"});
}

void suggest_for_fragmentation(const FailureReport& f, const AllocatorSettings& settings, const std::string& family,
                               std::vector<Suggestion>& out) {
  if (family == "tensorflow") {
    if (settings.tf_gpu_allocator != "cuda_malloc_async") {
      out.push_back({"TF_GPU_ALLOCATOR=cuda_malloc_async",
                     "TensorFlow's BFC allocator held " + format_bytes(cached_unallocated(f).value_or(0)) +
                         " free but no block as large as " + format_bytes(f.requested_bytes) +
                         "; the CUDA stream-ordered allocator does not fragment this way"});
    }
  } else if (family == "jax") {
    if (settings.xla_allocator != "platform") {
      out.push_back({"XLA_PYTHON_CLIENT_ALLOCATOR=platform",
                     "JAX's pool held free memory but no block as large as " + format_bytes(f.requested_bytes) +
                         "; the platform allocator takes exactly what is asked and frees it at once (slower, "
                         "but nothing to fragment)"});
    }
  } else if (family != "cupy") {
    suggest_pytorch_fragmentation(f, settings, out);
  }
}

Suggestion leak_suggestion(const LeakSignal& leak) {
  std::string where;
  if (!leak.sites.empty() && !leak.sites.front().frame.empty()) {
    where = ", most of it allocated at " + leak.sites.front().frame + " (+" +
            format_bytes(leak.sites.front().growth_bytes) + ")";
  }
  return {"keep nothing across iterations: loss.item(), tensor.detach()",
          "live device memory grew by " + format_bytes(leak.growth_bytes) + " over the run and never came back down" +
              where + "; a tensor kept from one iteration to the next (a loss or metric logged without .item(), "
              "outputs appended to a list, retain_graph=True) keeps its memory and its autograd graph alive"};
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

uint64_t ceil_percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return UINT64_MAX;
  unsigned __int128 percent = (static_cast<unsigned __int128>(part) * 100 + whole - 1) / whole;
  return percent > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(percent);
}

std::optional<uint64_t> percent_to_cut(const FailureReport& f) {
  uint64_t live = live_memory(f);
  if (!f.device_free_bytes || f.requested_bytes <= *f.device_free_bytes || live == 0) return std::nullopt;
  return ceil_percent(f.requested_bytes - *f.device_free_bytes, live);
}

std::optional<uint64_t> max_split_size_mb_for(const FailureReport& f) {
  uint64_t mb = f.requested_bytes / kMiB;
  if (mb < 32) return std::nullopt;
  uint64_t power = 32;
  while (power <= mb / 2) power *= 2;
  return power;
}

std::string framework_family(const FailureReport& f, const AllocatorSettings& settings) {
  if (f.framework) {
    for (const char* family : {"pytorch", "tensorflow", "jax", "cupy"}) {
      if (f.framework->starts_with(family)) return family;
    }
    return *f.framework;
  }
  if (stack_mentions(f, "libc10") || stack_mentions(f, "libtorch") || stack_mentions(f, "CachingAllocator")) {
    return "pytorch";
  }
  if (stack_mentions(f, "tensorflow")) return "tensorflow";
  if (stack_mentions(f, "xla_extension") || stack_mentions(f, "jaxlib")) return "jax";
  if (stack_mentions(f, "cupy")) return "cupy";
  if (settings.xla_preallocate || settings.xla_mem_fraction || settings.xla_allocator) return "jax";
  if (settings.tf_gpu_allocator || settings.tf_allow_growth) return "tensorflow";
  if (settings.cupy_memory_limit) return "cupy";
  if (!settings.conf_value.empty()) return "pytorch";  // PYTORCH_CUDA_ALLOC_CONF set
  return "";
}

std::vector<Suggestion> suggest(const FailureReport& f, const AllocatorSettings& settings) {
  std::vector<Suggestion> out;
  if (!f.verdict) return out;
  std::string family = framework_family(f, settings);
  switch (*f.verdict) {
    case Verdict::ExceedsCapacity: suggest_for_capacity(f, out); break;
    case Verdict::OtherProcesses: suggest_for_other_processes(f, out); break;
    case Verdict::Exhausted: suggest_for_exhausted(f, settings, family, out); break;
    case Verdict::Fragmentation: suggest_for_fragmentation(f, settings, family, out); break;
    case Verdict::Limit: suggest_for_limit(f, settings, out); break;
  }
  return out;
}


void add_leak_suggestion(const LeakSignal& leak, std::vector<FailureReport>& failures) {
  Suggestion suggestion = leak_suggestion(leak);
  for (FailureReport& failure : failures) {
    bool own_memory = !failure.verdict || failure.verdict == Verdict::Exhausted ||
                      failure.verdict == Verdict::Fragmentation;
    auto where = own_memory ? failure.suggestions.begin() : failure.suggestions.end();
    failure.suggestions.insert(where, suggestion);
  }
}

}  // namespace oomtrace::report
