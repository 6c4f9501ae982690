// What to try next, computed from the evidence of one failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/allocator_settings.h"
#include "report/report.h"

namespace oomtrace::report {

// Evidence that the process keeps freed memory cached (a caching allocator
// such as PyTorch's), in words; nullopt when the trace shows none.
std::optional<std::string> cached_memory_hint(const FailureReport& failure);

// The smallest whole percentage of the process's memory to give up so the
// request fits: ceil((request - free) / reserved * 100). nullopt when the
// request fit in the free memory or the figures are unknown.
std::optional<uint64_t> percent_to_cut(const FailureReport& failure);

std::vector<Suggestion> suggest(const FailureReport& failure, const AllocatorSettings& settings);

}  // namespace oomtrace::report
