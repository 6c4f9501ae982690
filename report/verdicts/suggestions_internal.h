// Pieces of suggest() kept in files of their own.
#pragma once

#include <vector>

#include "report/verdicts/allocator_settings.h"
#include "report/verdicts/report.h"

namespace oomtrace::report {

// A failure a cap refused (verdict limit): raise the cap, or fit under it.
void suggest_for_limit(const FailureReport& failure, const AllocatorSettings& settings,
                       std::vector<Suggestion>& out);

}  // namespace oomtrace::report
