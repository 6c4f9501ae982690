// `oomtrace export --format torch-snapshot|perfetto TRACE [-o FILE]`: a
// trace in a format other tools open (docs/exports.md).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct ExportOptions {
  std::string format;
  std::string trace_path;
  std::string output_path;  // -o; empty: standard output (never a terminal for the pickle)
  std::vector<std::string> debug_dirs;  // --debug-dir, as for `oomtrace report`
};

CLI::App* add_export_command(CLI::App& app, ExportOptions& options);
int export_command(const ExportOptions& options);

}  // namespace oomtrace::cli
