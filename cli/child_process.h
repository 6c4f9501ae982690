// Runs the traced command as a child and waits for it, passing on the
// signals someone sends to oomtrace so that `kill <oomtrace>` stops the
// program it wraps.
#pragma once

#include <string>
#include <vector>

namespace oomtrace::cli {

struct ChildOutcome {
  int exec_error = 0;  // errno from execvp; 0 when the command started
  int exit_code = 0;   // the child's exit status, 128+signal when killed
};

// The command runs with this process's environment. Returns exec_error
// set (and exit_code meaningless) when fork or exec failed.
ChildOutcome run_child(const std::vector<std::string>& command);

}  // namespace oomtrace::cli
