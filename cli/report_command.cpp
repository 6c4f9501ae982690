#include "cli/report_command.h"

#include <cstdio>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "report/render/report_files.h"
#include "report/render/snapshot_report.h"
#include "report/render/text_report.h"
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

int print(const report::Report& report, const ReportOptions& options) {
  std::string text = options.format == "json" ? report::render_json(report) : report::render_text(report);
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
  return print(report::report_from_torch_snapshot(options.trace_path, *loaded.snapshot), options);
}

int print_report(const ReportOptions& options) {
  if (report::file_starts_like_pickle(options.trace_path)) return print_snapshot_report(options);
  trace::ReadResult read = trace::read_trace(options.trace_path);
  if (!read.trace) {
    print_error(read.error);
    return kExitBadInput;
  }
  return print(report::analyze(*read.trace), options);
}

}  // namespace

CLI::App* add_report_command(CLI::App& app, ReportOptions& options) {
  CLI::App* command = app.add_subcommand("report", "Explain a trace: print its report, or write the report files");
  command->add_option("--format", options.format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command->add_flag("--write", options.write_files,
                    "write <stem>.report.json and <stem>.report.txt beside the trace instead of printing");
  command->add_option("trace", options.trace_path,
                      "the .trace file, or a PyTorch memory snapshot (.pickle from torch.cuda.memory._dump_snapshot)")
      ->required();
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
