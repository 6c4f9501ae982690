// The report files written beside a trace: <stem>.report.json and
// <stem>.report.txt, where stem is the trace path without ".trace".
#pragma once

#include <string>

namespace oomtrace::report {

struct ReportPaths {
  std::string json;
  std::string text;
};

ReportPaths report_paths(const std::string& trace_path);

// Reads the trace, analyzes it and writes both files, never replacing an
// existing one. Never throws: returns false with a one-line error.
// Matches trace::ReportWriter, so the preloaded library can call it at exit.
bool write_report_files(const std::string& trace_path, std::string* error) noexcept;

}  // namespace oomtrace::report
