#include "cli/whatif_command.h"

#include <charconv>
#include <cstdio>
#include <optional>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "cli/progress_bar.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "report/whatif/whatif.h"
#include "report/render/whatif_render.h"
#include "trace/reader.h"

namespace oomtrace::cli {
namespace {

// "85899345920", "80GiB", "80G", "512MiB": binary units only, so that a
// figure means one thing.
std::optional<uint64_t> parse_capacity(const std::string& text) {
  uint64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  std::string unit(end, text.data() + text.size());
  static const std::pair<const char*, int> kUnits[] = {{"", 0},    {"B", 0},    {"K", 10},   {"KiB", 10},
                                                       {"M", 20},  {"MiB", 20}, {"G", 30},   {"GiB", 30},
                                                       {"T", 40},  {"TiB", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (shift > 0 && number > (UINT64_MAX >> shift)) return std::nullopt;
    uint64_t bytes = number << shift;
    return bytes > 0 ? std::optional<uint64_t>(bytes) : std::nullopt;
  }
  return std::nullopt;
}

report::WhatIfResult analyze(const std::string& path, const report::WhatIfOptions& options) {
  if (report::file_starts_like_pickle(path)) {
    report::TorchSnapshotResult loaded = report::load_torch_snapshot(path);
    if (!loaded.snapshot) return {std::nullopt, loaded.error};
    report::WhatIfResult result = report::analyze_whatif(*loaded.snapshot, options);
    if (!result.analysis) result.error = path + ": " + result.error;
    return result;
  }
  ProgressBar progress("reading " + path);
  trace::ReadResult read = read_trace_showing_progress(path, progress);
  progress.finish();
  if (!read.trace) return {std::nullopt, read.error};
  report::WhatIfResult result = report::analyze_whatif(*read.trace, options);
  if (!result.analysis) result.error = path + ": " + result.error;
  return result;
}

}  // namespace

CLI::App* add_whatif_command(CLI::App& app, WhatIfOptions& options) {
  CLI::App* command = app.add_subcommand(
      "whatif", "Replay the recorded allocations under other PyTorch allocator settings: which would have avoided the OOM?");
  command->add_option("--capacity", options.capacity,
                      "memory the process may hold, in bytes or with a binary unit (80GiB, 512MiB); default: the "
                      "device's total when the input records it, else the recorded peak reserved");
  command->add_option("--set", options.settings,
                      "an alternative, as PYTORCH_CUDA_ALLOC_CONF would say it, on top of the recorded settings "
                      "(e.g. expandable_segments:True or max_split_size_mb:128,roundup_power2_divisions:4); repeatable");
  command->add_flag("--sweep", options.sweep,
                    "also try expandable segments, max_split_size_mb 64..1024, roundup_power2_divisions 4 and 8, and "
                    "their useful combinations (the default when no --set is given)");
  command->add_option("--format", options.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  command->add_option("--device", options.device, "the device to replay (default: the one with the most events)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("input", options.input_path,
                      "a PyTorch memory snapshot (.pickle from torch.cuda.memory._dump_snapshot) or an oomtrace trace "
                      "whose allocator reported its blocks")
      ->required();
  add_output_option(*command, options.output_path);
  return command;
}

int whatif_command(const WhatIfOptions& options) {
  report::WhatIfOptions analysis_options;
  if (!options.capacity.empty()) {
    analysis_options.capacity = parse_capacity(options.capacity);
    if (!analysis_options.capacity) {
      print_error("--capacity " + options.capacity + ": expected a number of bytes, optionally with K, M, G, T (or KiB, MiB, GiB, TiB)");
      return kExitUsage;
    }
  }
  analysis_options.alternatives = options.settings;
  analysis_options.sweep = options.sweep;
  if (options.device >= 0) analysis_options.device = options.device;
  report::WhatIfResult result = analyze(options.input_path, analysis_options);
  if (!result.analysis) {
    print_error(result.error);
    return kExitBadInput;
  }
  std::string text = options.format == "json" ? report::render_whatif_json(*result.analysis, options.input_path)
                                              : report::render_whatif_text(*result.analysis, options.input_path);
  if (!write_command_output(text, options.output_path)) return kExitBadInput;
  return 0;
}

}  // namespace oomtrace::cli
