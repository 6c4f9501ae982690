// Stacks from the trace's interned frames, as lines a person can search for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/symbols/frame_symbolizer.h"
#include "trace/reader.h"

namespace oomtrace::report {

// "symbol+0xOFF (module)", or "0xADDR (module+0xOFF)" when no symbol is
// known; innermost first. Empty for stack id 0 (none taken) or an id the
// trace never defined. With a symbolizer, frames inside a module the trace
// recorded (format 1.4) read "function at file.c:42 (module)", one line
// per inlined call marked " [inlined]", or "function+0xOFF (module)" from
// a stripped module's symbol table; the others read as without one.
std::vector<std::string> describe_stack(const trace::Trace& trace, uint32_t stack_id,
                                        FrameSymbolizer* symbolizer = nullptr);

std::string describe_frame(const trace::FrameInfo& frame);

// One source frame as a line of a stack; module_name is the file name only.
std::string describe_source_frame(const SourceFrame& frame, uint64_t address, const std::string& module_name);

inline constexpr char kInlinedMark[] = " [inlined]";

}  // namespace oomtrace::report
