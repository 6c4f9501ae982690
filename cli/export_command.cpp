#include "cli/export_command.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "cli/progress_bar.h"
#include "report/render/export/perfetto_export.h"
#include "report/render/export/torch_snapshot_export.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "report/symbols/dwarf_symbolizer.h"
#include "trace/reader.h"

namespace oomtrace::cli {

CLI::App* add_export_command(CLI::App& app, ExportOptions& options) {
  CLI::App* command = app.add_subcommand(
      "export", "Write a trace in another tool's format: a PyTorch memory snapshot, or a Perfetto/Chrome trace");
  command->add_option("--format", options.format,
                      "torch-snapshot (a .pickle for pytorch.org/memory_viz) or perfetto (JSON for ui.perfetto.dev)")
      ->check(CLI::IsMember({"torch-snapshot", "perfetto"}))
      ->required();
  command->add_option("trace", options.trace_path, "the .trace file")->required();
  command->add_option("--debug-dir", options.debug_dirs,
                      "torch-snapshot: a folder with the traced binaries or their debug files, for source "
                      "files and lines in the frames (repeatable; as for oomtrace report)")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory)
      ->allow_extra_args(false);
  add_output_option(*command, options.output_path);
  command->footer("Example: oomtrace export --format torch-snapshot run.trace -o run.pickle");
  return command;
}

int export_command(const ExportOptions& options) {
  bool binary = options.format == "torch-snapshot";
  // A pickle on a terminal is noise that can upset it: ask for a file.
  if (binary && options.output_path.empty() && ::isatty(STDOUT_FILENO)) {
    print_error("--format torch-snapshot writes a binary pickle: give -o FILE (or redirect standard output)");
    return kExitUsage;
  }
  if (report::file_starts_like_pickle(options.trace_path)) {
    print_error(options.trace_path + " is a PyTorch snapshot already; export takes an oomtrace trace");
    return kExitBadInput;
  }
  ProgressBar progress("reading " + options.trace_path);
  trace::ReadResult read = read_trace_showing_progress(options.trace_path, progress);
  if (!read.trace) {
    print_error(read.error);
    return kExitBadInput;
  }
  progress.stage("exporting " + options.trace_path + " as " + options.format);
  std::string exported;
  if (binary) {
    std::unique_ptr<report::FrameSymbolizer> symbolizer = report::make_dwarf_symbolizer(options.debug_dirs);
    exported = report::export_torch_snapshot(*read.trace, symbolizer.get());
  } else {
    exported = report::export_perfetto(*read.trace);
  }
  progress.finish();
  if (exported.empty()) {  // only an unbalanced writer gets here
    print_error("could not export " + options.trace_path + " as " + options.format);
    return kExitBadInput;
  }
  return write_command_output(exported, options.output_path) ? 0 : kExitBadInput;
}

}  // namespace oomtrace::cli
