// Finding the ELF file of a module recorded in a trace, on this machine or
// another: the recorded path when its build-id still matches, else copies
// in the --debug-dir folders, else the system's debug folder. A file whose
// build-id differs is never used: a rebuilt binary would give wrong lines.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "trace/format.h"

namespace oomtrace::report {

// The NT_GNU_BUILD_ID note of an ELF file on disk; nullopt when the file
// cannot be read as ELF, an empty string when it has no such note.
std::optional<std::string> read_build_id(const std::string& path);

std::string build_id_hex(const std::string& build_id);

struct ModuleFile {
  std::string path;  // empty: none found
  // Why none was used, one sentence naming the module; empty when found.
  std::string problem;
};

// The search order: the recorded path; in each debug folder the file named
// by build-id (.build-id/xx/rest, then .build-id/xx/rest.debug) and by the
// module's file name; /usr/lib/debug/.build-id/xx/rest.debug. Without a
// recorded build-id only the recorded path and same-named files serve.
ModuleFile find_module_file(const trace::ModuleInfo& module, const std::vector<std::string>& debug_dirs,
                            const std::string& system_debug_dir = "/usr/lib/debug");

}  // namespace oomtrace::report
