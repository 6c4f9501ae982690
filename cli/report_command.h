// `oomtrace report [--format text|json] [--write] TRACE`
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct ReportOptions {
  std::string format = "text";
  bool write_files = false;
  std::string trace_path;
  std::string output_path;  // -o; empty: standard output
  // Where to look for the traced modules and their debug files, besides
  // the paths the trace recorded (report/symbols/module_files.h).
  std::vector<std::string> debug_dirs;
};

CLI::App* add_report_command(CLI::App& app, ReportOptions& options);
int report_command(const ReportOptions& options);

}  // namespace oomtrace::cli
