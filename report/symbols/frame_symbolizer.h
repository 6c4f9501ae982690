// What a native frame's code address means in the program's source: the
// function, file and line, and the calls the compiler inlined there. The
// interface only, so that the analysis (in oomtrace_report, which
// liboomtrace.so links) can take a symbolizer without linking libdw; the
// implementation reading DWARF is dwarf_symbolizer.h, in oomtrace_symbols,
// which only the oomtrace command links. The preloaded library never
// symbolizes: it records each module's path and build-id, and reports
// read the files afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trace/format.h"

namespace oomtrace::report {

struct SourceFrame {
  std::string function;  // demangled; empty when nothing names the code
  std::string file;      // as the debug information names it; empty without line information
  uint32_t line = 0;
  // Code the compiler inlined into the frame that follows it in the list.
  bool inlined = false;
  // Set when only a symbol table named the code (a stripped binary): the
  // return address's distance from the symbol's start.
  std::optional<uint64_t> symbol_offset;
};

class FrameSymbolizer {
 public:
  virtual ~FrameSymbolizer() = default;
  // The source frames at a return address recorded inside `module`,
  // innermost (the most deeply inlined) first and the function the machine
  // frame belongs to last. Empty when the module's file cannot be found or
  // used: the caller keeps what the trace recorded.
  virtual std::vector<SourceFrame> symbolize(const trace::ModuleInfo& module, uint64_t return_address) = 0;
  // One sentence per module that could not be used, and why, in the order
  // they were met: for the report's notes.
  virtual std::vector<std::string> problems() const = 0;
};

}  // namespace oomtrace::report
