// `oomtrace run [--dir DIR] [--simulate-gpu SPEC] -- CMD ARGS...`
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct RunOptions {
  std::string dir;  // empty: traces go where OOMTRACE_DIR or the cwd says
  std::string simulate_gpu;  // empty: the real GPU; else a spec (cli/simulated_gpu.h)
  std::vector<std::string> command;
  std::string output_path;  // -o: the reports go there instead of stderr
};

CLI::App* add_run_command(CLI::App& app, RunOptions& options);
int run_command(const RunOptions& options);

}  // namespace oomtrace::cli
