// The library's settings, from the environment, read once when the first
// allocation is recorded. A bad value is reported once and replaced by the
// default; it never stops the host program.
#pragma once

#include <string>
#include <vector>

namespace oomtrace::interpose {

// How the native stack of each allocation is taken (OOMTRACE_STACKS).
enum class StackMode {
  Off,            // 0: none (failures still get one, from the unwinder)
  Unwinder,       // dwarf: the C++ runtime's DWARF unwinder for every stack
  FramePointers,  // fp: follows frame pointers; fast, for code built with them
  CachedCfi,      // 1, cfi (default): the DWARF rules, interpreted once per
                  // return address; libgcc's unwinder where they are not simple
};

struct Config {
  std::string output_dir = ".";  // OOMTRACE_DIR
  StackMode stacks = StackMode::CachedCfi;
  // OOMTRACE_CLOCK=monotonic: clock_gettime for every stamp, never the TSC
  // (event_clock.h).
  bool tsc_clock = true;
  bool quiet = false;            // OOMTRACE_QUIET=1: no line on stderr at exit
  std::string cli_path;          // OOMTRACE_CLI, else `oomtrace` beside the library
  std::vector<std::string> problems;  // one line per rejected variable
};

Config read_config();

// Environment variables that change how CUDA frameworks allocate; recorded in
// the trace so the report never suggests what was already set.
const std::vector<const char*>& allocator_setting_names();

}  // namespace oomtrace::interpose
