// A trace as a PyTorch memory snapshot: the pickle torch.cuda.memory.
// _dump_snapshot() writes, so PyTorch's memory visualiser
// (pytorch.org/memory_viz, torch.cuda._memory_viz) and oomtrace itself
// (`oomtrace report FILE.pickle`) read it.
//
//   segments       every device allocation (and cuMemMap'd range) still
//                  live at the end of the trace, with its blocks. The end,
//                  not the failure: the viewers rebuild every earlier state,
//                  the failure's included, by walking device_traces back
//                  from these segments, so the two must agree.
//   device_traces  one list per device of what happened, in call order:
//                  segment_alloc/segment_free for the driver's memory,
//                  alloc/free_requested/free_completed for blocks, oom for
//                  each failed allocation.
//
// Blocks are the ones a program's allocator reported through the pool API.
// A segment without any is one allocated block of its full size, which is
// all the driver shows. Native stacks become frames {filename, line, name}:
// the source file, line and function when a symbolizer finds debug
// information for the module (inlined calls as frames of their own), else
// the module, line 0 and the exported symbol or the address.
#pragma once

#include <string>

#include "report/symbols/frame_symbolizer.h"
#include "trace/reader.h"

namespace oomtrace::report {

// The pickle's bytes (protocol 4).
// symbolizer: optional (report/symbols/dwarf_symbolizer.h makes one).
std::string export_torch_snapshot(const trace::Trace& trace, FrameSymbolizer* symbolizer = nullptr);

}  // namespace oomtrace::report
