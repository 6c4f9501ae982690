// `oomtrace merge [--format text|json|html] DIR [-o FILE]`: the traces of a
// distributed job's ranks, copied into one folder, read together.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct MergeOptions {
  std::string format = "text";
  std::string folder;
  std::string output_path;  // -o; empty: standard output
};

CLI::App* add_merge_command(CLI::App& app, MergeOptions& options);
int merge_command(const MergeOptions& options);

}  // namespace oomtrace::cli
