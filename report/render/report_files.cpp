#include "report/render/report_files.h"

#include <exception>
#include <unistd.h>

#include "report/analysis/analysis.h"
#include "report/common/exclusive_file.h"
#include "report/render/json_report.h"
#include "report/render/text_report.h"
#include "trace/reader.h"

namespace oomtrace::report {
namespace {

constexpr std::string_view kTraceSuffix = ".trace";

void set_error(std::string* error, const std::string& text) {
  if (error) *error = text;
}

bool write_both(const std::string& trace_path, std::string* error) {
  trace::ReadResult read = trace::read_trace(trace_path);
  if (!read.trace) {
    set_error(error, read.error);
    return false;
  }
  Report report = analyze(*read.trace);
  ReportPaths paths = report_paths(trace_path);
  if (!write_exclusive_file(paths.json, render_json(report), error)) return false;
  if (!write_exclusive_file(paths.text, render_text(report), error)) {
    // Half a pair would block the next attempt at writing both.
    ::unlink(paths.json.c_str());
    return false;
  }
  return true;
}

}  // namespace

ReportPaths report_paths(const std::string& trace_path) {
  std::string stem = trace_path;
  if (stem.size() > kTraceSuffix.size() && stem.ends_with(kTraceSuffix)) {
    stem.resize(stem.size() - kTraceSuffix.size());
  }
  return {stem + ".report.json", stem + ".report.txt"};
}

bool write_report_files(const std::string& trace_path, std::string* error) noexcept {
  try {
    return write_both(trace_path, error);
  } catch (const std::exception& e) {
    try {
      set_error(error, "cannot write the report for " + trace_path + ": " + e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      set_error(error, "cannot write the report for " + trace_path + ": unexpected error");
    } catch (...) {
    }
  }
  return false;
}

}  // namespace oomtrace::report
