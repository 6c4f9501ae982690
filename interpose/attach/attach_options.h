// What `oomtrace attach` tells the library, as "key=value" lines in one
// string it writes into the target: the folder for the trace (as the target
// sees it), the Python bridge's folder, and the target's pid as the command
// sees it. Parsed on the borrowed thread, so kept to string copies.
#pragma once

#include <cstdint>
#include <string>

namespace oomtrace::interpose {

struct AttachOptions {
  std::string output_dir;  // dir=
  std::string python_dir;  // python= (empty: no bridge)
  uint32_t outer_pid = 0;  // pid=
};

// False when a line is malformed or dir= is missing.
bool parse_attach_options(const char* text, AttachOptions& options);

}  // namespace oomtrace::interpose
