// What to try next, computed from the evidence of one failure and ranked:
// the suggestion most likely to help comes first. Each names the exact
// setting or action and why, with the failure's figures; nothing the
// process already ran with is suggested again.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/verdicts/allocator_settings.h"
#include "report/verdicts/report.h"

namespace oomtrace::report {

// Evidence that the process keeps freed memory cached (a caching allocator
// such as PyTorch's), in words; nullopt when the trace shows none.
std::optional<std::string> cached_memory_hint(const FailureReport& failure);

// ceil(part * 100 / whole), computed wide so that no figure wraps around
// into a small, plausible-looking percentage; UINT64_MAX when whole is 0.
uint64_t ceil_percent(uint64_t part, uint64_t whole);

// The smallest fraction with two decimals that covers `needed` of `total`,
// as text ("0.05"), for settings such as a memory fraction; nullopt when
// even all of it is not enough.
std::optional<std::string> fraction_covering(uint64_t needed, uint64_t total);

// The smallest whole percentage of live memory to give up so the request
// fits: ceil((request - free) / live * 100), where live memory is what the
// framework had allocated when known, else what the process held. nullopt
// when the request fit in the free memory or the figures are unknown.
std::optional<uint64_t> percent_to_cut(const FailureReport& failure);

// max_split_size_mb for a fragmented PyTorch cache: the request in MiB
// rounded down to a power of two. Blocks that large are then never split
// for smaller requests, so a request like this one finds one whole. nullopt
// below 32 MiB, where the setting (at least 20) would not protect it.
std::optional<uint64_t> max_split_size_mb_for(const FailureReport& failure);

// "pytorch", "tensorflow", "jax", "cupy" or "" : the failure's own framework
// when known, else what its stack or the settings point to.
std::string framework_family(const FailureReport& failure, const AllocatorSettings& settings);

std::vector<Suggestion> suggest(const FailureReport& failure, const AllocatorSettings& settings);

// What a suspected leak adds to each failure's suggestions: first where the
// process's own memory ran out (exhausted, fragmentation, no verdict), last
// where something else was the cause.
void add_leak_suggestion(const LeakSignal& leak, std::vector<FailureReport>& failures);

}  // namespace oomtrace::report
