// The report as JSON, schema "oomtrace-report/1" (docs/report-schema.json).
// Unknown figures are null, never 0.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "report/verdicts/report.h"

namespace oomtrace::report {

inline constexpr char kReportSchema[] = "oomtrace-report/1";

// Keys keep the order the schema lists them in, "schema" first, so the
// file reads top-down like the text report.
nlohmann::ordered_json to_json(const Report& report);
// One entry of the report's "failures" (oomtrace explain prints one too).
nlohmann::ordered_json failure_to_json(const FailureReport& failure);
// Indented, ending in a newline.
std::string render_json(const Report& report);

}  // namespace oomtrace::report
