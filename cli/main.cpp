// oomtrace: run a program with the tracer preloaded, attach it to a running
// one, or explain a trace.
#include <cstdio>
#include <exception>
#include <string_view>

#include <CLI/CLI.hpp>

#include "cli/attach_command.h"
#include "cli/explain_command.h"
#include "cli/export_command.h"
#include "cli/merge_command.h"
#include "cli/messages.h"
#include "cli/report_command.h"
#include "cli/run_command.h"
#include "cli/whatif_command.h"

namespace {

// The help to point at after a usage error: the subcommand's when one was
// named (parsing stopped, so CLI11 cannot tell us which).
std::string help_hint(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "run" || arg == "report" || arg == "explain" || arg == "whatif" ||
        arg == "export" || arg == "attach" || arg == "detach" || arg == "merge") return " (see oomtrace " + std::string(arg) + " --help)";
    if (arg == "--") break;
  }
  return " (see oomtrace --help)";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace oomtrace::cli;
  CLI::App app{"oomtrace: explains CUDA out-of-memory failures", "oomtrace"};
  app.set_version_flag("--version", "oomtrace " OOMTRACE_VERSION);
  app.require_subcommand(0, 1);
  RunOptions run_options;
  ReportOptions report_options;
  CLI::App* run = add_run_command(app, run_options);
  CLI::App* report = add_report_command(app, report_options);
  ExplainOptions explain_options;
  CLI::App* explain = add_explain_command(app, explain_options);
  WhatIfOptions whatif_options;
  CLI::App* whatif = add_whatif_command(app, whatif_options);
  ExportOptions export_options;
  CLI::App* export_app = add_export_command(app, export_options);
  AttachOptions attach_options;
  CLI::App* attach = add_attach_command(app, attach_options);
  DetachOptions detach_options;
  CLI::App* detach = add_detach_command(app, detach_options);
  MergeOptions merge_options;
  CLI::App* merge = add_merge_command(app, merge_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& done) {  // --help, --version
    return app.exit(done);
  } catch (const CLI::ParseError& error) {
    print_error(error.what() + help_hint(argc, argv));
    return kExitUsage;
  }
  try {
    if (run->parsed()) return run_command(run_options);
    if (report->parsed()) return report_command(report_options);
    if (explain->parsed()) return explain_command(explain_options);
    if (whatif->parsed()) return whatif_command(whatif_options);
    if (export_app->parsed()) return export_command(export_options);
    if (attach->parsed()) return attach_command(attach_options);
    if (detach->parsed()) return detach_command(detach_options);
    if (merge->parsed()) return merge_command(merge_options);
  } catch (const std::exception& error) {  // out of memory ourselves, at worst
    print_error(error.what());
    return kExitBadInput;
  }
  std::fputs(app.help().c_str(), stderr);
  return kExitUsage;
}
