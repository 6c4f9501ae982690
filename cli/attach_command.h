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
};

struct DetachOptions {
  pid_t pid = 0;
  int timeout_s = 60;
};

CLI::App* add_attach_command(CLI::App& app, AttachOptions& options);
CLI::App* add_detach_command(CLI::App& app, DetachOptions& options);
int attach_command(const AttachOptions& options);
int detach_command(const DetachOptions& options);

}  // namespace oomtrace::cli
