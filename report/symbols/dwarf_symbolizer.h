// FrameSymbolizer reading DWARF and symbol tables with elfutils' libdwfl,
// offline: each module's file is found on disk (module_files.h) and read at
// its own addresses, never the running process. Part of oomtrace_symbols,
// linked by the oomtrace command only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "report/symbols/frame_symbolizer.h"

namespace oomtrace::report {

// debug_dirs: folders searched for modules and separate debug files (by
// build-id under .build-id/, and by file name), before /usr/lib/debug.
std::unique_ptr<FrameSymbolizer> make_dwarf_symbolizer(const std::vector<std::string>& debug_dirs);

}  // namespace oomtrace::report
