// `oomtrace whatif` as text (a table and a ranked recommendation) and as
// JSON (schema "oomtrace-whatif/1", docs/whatif.md).
#pragma once

#include <string>

#include "report/whatif/whatif.h"

namespace oomtrace::report {

std::string render_whatif_text(const WhatIfAnalysis& analysis, const std::string& input_name);
std::string render_whatif_json(const WhatIfAnalysis& analysis, const std::string& input_name);

}  // namespace oomtrace::report
