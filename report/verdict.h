// Why an allocation failed, decided from the figures at the instant of the
// failure, and said in words with the numbers that prove it.
#pragma once

#include <optional>
#include <string>

#include "report/allocator_settings.h"
#include "report/report.h"

namespace oomtrace::report {

// In order of precedence: exceeds_capacity, fragmentation, other_processes,
// exhausted. nullopt when the device's figures needed to decide are unknown.
std::optional<Verdict> decide_verdict(const FailureReport& failure);

// One paragraph for the failure's verdict (which must already be decided).
std::string explain(const FailureReport& failure);

// Fills verdict, explanation and suggestions of a failure whose figures are
// set.
void judge(FailureReport& failure, const AllocatorSettings& settings);

}  // namespace oomtrace::report
