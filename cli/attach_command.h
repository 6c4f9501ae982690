// `oomtrace attach PID` and `oomtrace detach PID`: join a running process,
// watch it until it fails or until detach, and leave it running.
#pragma once

#include <string>
#include <sys/types.h>

#include <CLI/CLI.hpp>

namespace oomtrace::cli {

struct AttachOptions {
  pid_t pid = 0;
  std::string dir;
  int timeout_s = 30;
  // -o: where `oomtrace detach` writes the text report of this attach.
  std::string output_path;
};

struct DetachOptions {
  pid_t pid = 0;
  int timeout_s = 60;
  // -o: the text report goes here too (default: where attach -o said).
  std::string output_path;
};

CLI::App* add_attach_command(CLI::App& app, AttachOptions& options);
CLI::App* add_detach_command(CLI::App& app, DetachOptions& options);
int attach_command(const AttachOptions& options);
int detach_command(const DetachOptions& options);

}  // namespace oomtrace::cli
