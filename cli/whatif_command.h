// `oomtrace whatif TRACE|SNAPSHOT [--capacity BYTES] [--set KEY:VALUE ...]
//  [--sweep] [--format text|json] [--device N]`: the recorded allocations
// replayed through a model of PyTorch's caching allocator under other
// settings (docs/whatif.md).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct WhatIfOptions {
  std::string input_path;
  std::string capacity;               // bytes, or with a unit: 80GiB, 40G, 512MiB
  std::vector<std::string> settings;  // each a PYTORCH_CUDA_ALLOC_CONF string: one alternative
  bool sweep = false;
  std::string format = "text";
  std::string output_path;  // -o; empty: standard output
  int device = -1;  // -1: the device with the most events
};

CLI::App* add_whatif_command(CLI::App& app, WhatIfOptions& options);
int whatif_command(const WhatIfOptions& options);

}  // namespace oomtrace::cli
