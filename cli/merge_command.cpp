#include "cli/merge_command.h"

#include <filesystem>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "cli/progress_bar.h"
#include "report/merge/merge.h"

namespace oomtrace::cli {
namespace {

std::string render(const report::MergeReport& merged, const std::string& format) {
  if (format == "json") return report::render_merge_json(merged);
  if (format == "html") return report::render_merge_html(merged);
  return report::render_merge_text(merged);
}

// Nothing to merge is an error, not an empty report: most often the wrong
// folder, or traces not yet copied in.
std::string nothing_readable(const std::string& folder, const report::MergeReport& merged) {
  return "no readable trace in " + folder + " (" + std::to_string(merged.unreadable.size()) +
         " unreadable; first: " + merged.unreadable.front().error + ")";
}

}  // namespace

CLI::App* add_merge_command(CLI::App& app, MergeOptions& options) {
  CLI::App* command = app.add_subcommand(
      "merge", "Read the traces of every rank of a distributed job (copied into one folder) together");
  command->add_option("--format", options.format, "text (default), json or html")
      ->check(CLI::IsMember({"text", "json", "html"}));
  command->add_option("dir", options.folder, "the folder holding the traces (oomtrace.<host>.rank<R>.<pid>.trace)")
      ->required();
  add_output_option(*command, options.output_path);
  command->footer("Example: oomtrace merge --format html /shared/oom -o oom.html\n");
  return command;
}

int merge_command(const MergeOptions& options) {
  std::string error;
  std::optional<std::vector<std::string>> traces = report::find_trace_files(options.folder, &error);
  if (!traces) {
    print_error(error);
    return kExitBadInput;
  }
  if (traces->empty()) {
    print_error("no trace in " + options.folder + " (looked for *.trace files and files that start like one)");
    return kExitBadInput;
  }
  ProgressBar progress("merging " + options.folder);
  report::MergeReport merged = report::merge_traces(
      options.folder, *traces, [&](size_t done, size_t total, const std::string& path) {
        if (!path.empty()) progress.set_label("reading " + std::filesystem::path(path).filename().string());
        progress.update(done, total);
      });
  progress.finish();
  if (merged.ranks.empty()) {
    print_error(nothing_readable(options.folder, merged));
    return kExitBadInput;
  }
  return write_command_output(render(merged, options.format), options.output_path) ? 0 : kExitBadInput;
}

}  // namespace oomtrace::cli
