#include "cli/report_command.h"

#include <cstdio>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "cli/progress_bar.h"
#include "report/analysis/analysis.h"
#include "report/analysis/report_visuals.h"
#include "report/render/html/html_report.h"
#include "report/render/json_report.h"
#include "report/render/report_files.h"
#include "report/render/snapshot_report.h"
#include "report/render/text_report.h"
#include "report/symbols/dwarf_symbolizer.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "trace/reader.h"

namespace oomtrace::cli {
namespace {

int write_files(const std::string& trace_path) {
  std::string error;
  if (!report::write_report_files(trace_path, &error)) {
    print_error(error);
    return kExitBadInput;
  }
  report::ReportPaths paths = report::report_paths(trace_path);
  // stderr: the library runs this from a dying program whose stdout may be
  // a pipe someone is parsing.
  print_note("wrote " + paths.json + " and " + paths.text);
  return 0;
}

// `visuals` is what only the HTML page draws; text and JSON ignore it.
int print(const report::Report& report, const report::ReportVisuals& visuals, const ReportOptions& options) {
  std::string text;
  if (options.format == "json") {
    text = report::render_json(report);
  } else if (options.format == "html") {
    text = report::render_html(report, visuals);
  } else {
    text = report::render_text(report);
  }
  return write_command_output(text, options.output_path) ? 0 : kExitBadInput;
}

// A pickle written by torch.cuda.memory._dump_snapshot(), read as plain
// data: one that would run code is refused with one line.
int print_snapshot_report(const ReportOptions& options) {
  report::TorchSnapshotResult loaded = report::load_torch_snapshot(options.trace_path);
  if (!loaded.snapshot) {
    print_error(loaded.error);
    return kExitBadInput;
  }
  report::ReportVisuals visuals;
  if (options.format == "html") visuals = report::visuals_for_snapshot(*loaded.snapshot);
  return print(report::report_from_torch_snapshot(options.trace_path, *loaded.snapshot), visuals, options);
}

int print_report(const ReportOptions& options) {
  if (report::file_starts_like_pickle(options.trace_path)) return print_snapshot_report(options);
  ProgressBar progress("reading " + options.trace_path);
  trace::ReadResult read = read_trace_showing_progress(options.trace_path, progress);
  if (!read.trace) {
    print_error(read.error);
    return kExitBadInput;
  }
  progress.stage("analysing " + options.trace_path);
  std::unique_ptr<report::FrameSymbolizer> symbolizer = report::make_dwarf_symbolizer(options.debug_dirs);
  report::Report report = report::analyze(*read.trace, symbolizer.get());
  report::ReportVisuals visuals;
  if (options.format == "html") {
    progress.stage("drawing the pictures of " + options.trace_path);
    visuals = report::analyze_visuals(*read.trace, report, symbolizer.get());
  }
  progress.finish();
  return print(report, visuals, options);
}

}  // namespace

CLI::App* add_report_command(CLI::App& app, ReportOptions& options) {
  CLI::App* command = app.add_subcommand("report", "Explain a trace: print its report, or write the report files");
  command->add_option("--format", options.format, "text (default), json, or html (one self-contained page)")
      ->check(CLI::IsMember({"text", "json", "html"}));
  command->add_flag("--write", options.write_files,
                    "write <stem>.report.json and <stem>.report.txt beside the trace instead of printing");
  command->add_option("trace", options.trace_path,
                      "the .trace file, or a PyTorch memory snapshot (.pickle from torch.cuda.memory._dump_snapshot)")
      ->required();
  command->add_option("--debug-dir", options.debug_dirs,
                      "a folder with the traced binaries or their debug files (by build-id under .build-id/, "
                      "or by file name), for native frames' file and line; repeatable")
      ->check(CLI::ExistingDirectory)
      ->allow_extra_args(false);
  add_output_option(*command, options.output_path);
  return command;
}

int report_command(const ReportOptions& options) {
  if (options.write_files && !options.output_path.empty()) {
    print_error("--write writes the report files beside the trace; -o names one file: give one of the two");
    return kExitUsage;
  }
  if (options.write_files && report::file_starts_like_pickle(options.trace_path)) {
    print_error("--write takes a trace; " + options.trace_path + " is a PyTorch snapshot (print its report instead)");
    return kExitBadInput;
  }
  return options.write_files ? write_files(options.trace_path) : print_report(options);
}

}  // namespace oomtrace::cli
