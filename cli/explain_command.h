// `oomtrace explain [--format text|json] [MESSAGE...]`: the diagnosis of an
// out-of-memory message pasted as arguments or on standard input.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct ExplainOptions {
  std::string format = "text";
  std::vector<std::string> message;  // empty: read standard input
  std::string output_path;           // -o; empty: standard output
};

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& options);
int explain_command(const ExplainOptions& options);

}  // namespace oomtrace::cli
