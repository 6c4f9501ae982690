// The report for a person: the failure that matters in full, the rest in
// one line each, and the command that shows everything.
#pragma once

#include <string>

#include "report/verdicts/report.h"

namespace oomtrace::report {

std::string render_text(const Report& report);

// The last line of every text report, e.g.
// "Full report: oomtrace report --format json /abs/oomtrace.host.123.trace".
std::string full_report_command(const std::string& trace_path);

}  // namespace oomtrace::report
