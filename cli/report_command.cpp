#include "cli/report_command.h"

#include <cstdio>

#include "cli/messages.h"
#include "report/analysis.h"
#include "report/json_report.h"
#include "report/report_files.h"
#include "report/text_report.h"
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

int print_report(const ReportOptions& options) {
  trace::ReadResult read = trace::read_trace(options.trace_path);
  if (!read.trace) {
    print_error(read.error);
    return kExitBadInput;
  }
  report::Report report = report::analyze(*read.trace);
  std::string text = options.format == "json" ? report::render_json(report) : report::render_text(report);
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    print_error("cannot write the report to standard output");
    return kExitBadInput;
  }
  return 0;
}

}  // namespace

CLI::App* add_report_command(CLI::App& app, ReportOptions& options) {
  CLI::App* command = app.add_subcommand("report", "Explain a trace: print its report, or write the report files");
  command->add_option("--format", options.format, "text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  command->add_flag("--write", options.write_files,
                    "write <stem>.report.json and <stem>.report.txt beside the trace instead of printing");
  command->add_option("trace", options.trace_path, "the .trace file")->required();
  return command;
}

int report_command(const ReportOptions& options) {
  return options.write_files ? write_files(options.trace_path) : print_report(options);
}

}  // namespace oomtrace::cli
