// Suggestions for a failure a cap refused: the setting that raises the cap,
// sized from the failure, then how to fit under it.
#include <algorithm>
#include <cstdio>

#include "report/common/format_bytes.h"
#include "report/verdicts/suggestions.h"
#include "report/verdicts/suggestions_internal.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

uint64_t needed_bytes(const FailureReport& f) {
  uint64_t held = f.process_reserved_bytes;
  return held > UINT64_MAX - f.requested_bytes ? UINT64_MAX : held + f.requested_bytes;
}

// A new limit in whole MiB that covers what was needed and is above the
// cap that refused (rounded figures can put the need at the cap itself).
uint64_t new_limit_mib(const FailureReport& f) {
  uint64_t needed = std::max(needed_bytes(f), f.cap->bytes + 1);
  return needed / kMiB + (needed % kMiB != 0);
}

}  // namespace

std::optional<std::string> fraction_covering(uint64_t needed, uint64_t total) {
  uint64_t hundredths = ceil_percent(needed, total);
  if (hundredths > 100) return std::nullopt;
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", static_cast<double>(hundredths) / 100);
  return std::string(text);
}

namespace {

std::string held_and_asked(const FailureReport& f) {
  return "it held " + format_bytes(f.process_reserved_bytes) + " and asked for " + format_bytes(f.requested_bytes) +
         " more";
}

std::string capped_at(const FailureReport& f) {
  std::string text = format_bytes(f.cap->bytes);
  if (f.device_total_bytes) text += " of GPU " + std::to_string(f.device) + "'s " + format_bytes(*f.device_total_bytes);
  return text;
}

void raise_fraction(const FailureReport& f, const std::string& setting_prefix, const std::string& who,
                    std::vector<Suggestion>& out) {
  if (!f.device_total_bytes) return;
  std::optional<std::string> fraction = fraction_covering(needed_bytes(f), *f.device_total_bytes);
  if (!fraction) return;
  out.push_back({setting_prefix + *fraction + (setting_prefix.back() == '(' ? ")" : ""),
                 who + " was capped at " + capped_at(f) + "; " + held_and_asked(f) + ": a fraction of at least " +
                     *fraction + " lets this request fit"});
}

// Fit under the cap: the same figures as the batch cut for a full device,
// measured against the cap instead of the free memory.
void cut_under_cap(const FailureReport& f, std::vector<Suggestion>& out) {
  uint64_t needed = needed_bytes(f);
  uint64_t live = f.process_allocated_bytes.value_or(f.process_reserved_bytes);
  if (needed <= f.cap->bytes || live == 0) return;
  uint64_t over = needed - f.cap->bytes;
  uint64_t percent = ceil_percent(over, live);
  if (percent > 100) return;
  out.push_back({"reduce the batch size", "the step needs about " + format_bytes(over) +
                                              " more than the cap allows; live memory is " + format_bytes(live) +
                                              "; cut the batch by at least " + std::to_string(percent) + "%"});
}

void suggest_for_pytorch_fraction(const FailureReport& f, const AllocatorSettings& settings,
                                  std::vector<Suggestion>& out) {
  raise_fraction(f, "torch.cuda.set_per_process_memory_fraction(", "PyTorch", out);
  cut_under_cap(f, out);
  // The collector runs only under a memory fraction, so here it can act.
  std::optional<uint64_t> cached = cached_unallocated(f);
  if (cached && *cached > 0 && !settings.garbage_collection_threshold && !settings.async_backend) {
    out.push_back({with_option(settings, "garbage_collection_threshold:0.8"),
                   "under a memory fraction PyTorch can then give back cached blocks it is not using (" +
                       format_bytes(*cached) + " here) as usage passes 80% of the cap, instead of all at once "
                       "at a failure; it eases the approach to the cap, it does not raise it"});
  }
}

void suggest_for_cupy_limit(const FailureReport& f, std::vector<Suggestion>& out) {
  out.push_back({"CUPY_GPU_MEMORY_LIMIT=" + std::to_string(new_limit_mib(f) * kMiB),
                 "CuPy's pool was capped at " + capped_at(f) + "; " + held_and_asked(f) +
                     " (or MemoryPool.set_limit(size=...) in the program)"});
  cut_under_cap(f, out);
  out.push_back({"cupy.get_default_memory_pool().free_all_blocks()",
                 "the pool counts the blocks it keeps cached against its limit; freeing them before a large "
                 "step gives that room back"});
}

void suggest_for_host_limit(const FailureReport& f, std::vector<Suggestion>& out) {
  out.push_back({"TF_GPU_HOST_MEM_LIMIT_IN_MB=" + std::to_string(new_limit_mib(f)),
                 "TensorFlow's pinned host memory was full at its limit of " + format_bytes(f.cap->bytes) + " (" +
                     format_bytes(f.process_reserved_bytes) + " in use) when " + format_bytes(f.requested_bytes) +
                     " more was asked for; raise the limit if the host has the RAM, or keep less data in pinned "
                     "memory (smaller prefetch or staging buffers)"});
}

}  // namespace

void suggest_for_limit(const FailureReport& f, const AllocatorSettings& settings, std::vector<Suggestion>& out) {
  switch (f.cap->kind) {
    case CapKind::PyTorchMemoryFraction: suggest_for_pytorch_fraction(f, settings, out); break;
    case CapKind::CuPyPoolLimit: suggest_for_cupy_limit(f, out); break;
    case CapKind::XlaMemoryFraction:
      raise_fraction(f, "XLA_PYTHON_CLIENT_MEM_FRACTION=", "JAX's pool", out);
      cut_under_cap(f, out);
      break;
    case CapKind::TensorFlowHostLimit: suggest_for_host_limit(f, out); break;
    case CapKind::PlatformBlockLimit:
      out.push_back({"split the request", "the platform allocates at most " + format_bytes(f.cap->bytes) +
                                              " in one piece and " + format_bytes(f.requested_bytes) +
                                              " was asked for: split the tensor, or shrink the batch or sequence "
                                              "so that no single tensor reaches the limit"});
      break;
  }
}

}  // namespace oomtrace::report
