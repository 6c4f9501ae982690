// The report's PyTorch section for a person: per device what PyTorch held
// and how much of it sat free, where the live memory was allocated, and the
// largest blocks with their Python stacks. The JSON report has all of it.
#pragma once

#include <string>

#include "report/verdicts/report.h"

namespace oomtrace::report {

// One paragraph per snapshot; "" when the report read none.
std::string pytorch_text(const Report& report);

// The whole text report when the input was a snapshot on its own.
std::string render_torch_snapshot_text(const Report& report);

}  // namespace oomtrace::report
