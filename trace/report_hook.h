// The preloaded library writes its reports at exit, but interpose/ must not
// include report/. The report side registers its writer here (see
// report/register_report_writer.cpp, linked only into liboomtrace.so) and the
// library's exit path calls whatever is registered.
#pragma once

#include <string>

namespace oomtrace::trace {

// Writes <stem>.report.json and <stem>.report.txt beside the trace. Returns
// false and fills error when it could not.
using ReportWriter = bool (*)(const std::string& trace_path, std::string* error);

void set_report_writer(ReportWriter writer);
ReportWriter report_writer();

}  // namespace oomtrace::trace
