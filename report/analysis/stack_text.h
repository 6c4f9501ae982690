// Stacks from the trace's interned frames, as lines a person can search for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace/reader.h"

namespace oomtrace::report {

// "symbol+0xOFF (module)", or "0xADDR (module+0xOFF)" when no symbol is
// known; innermost first. Empty for stack id 0 (none taken) or an id the
// trace never defined.
std::vector<std::string> describe_stack(const trace::Trace& trace, uint32_t stack_id);

std::string describe_frame(const trace::FrameInfo& frame);

}  // namespace oomtrace::report
