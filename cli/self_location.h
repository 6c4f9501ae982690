// Where this oomtrace binary and its preload library live.
#pragma once

#include <string>

namespace oomtrace::cli {

// The running executable, resolved through /proc/self/exe; empty when the
// kernel does not say.
std::string self_executable_path();

struct LibraryLookup {
  std::string path;  // where we looked (absolute)
  bool found = false;
};

// $OOMTRACE_LIBRARY when set, else liboomtrace.so beside the executable.
LibraryLookup locate_preload_library();

}  // namespace oomtrace::cli
