// Replays a trace through the memory model and works out the report: what
// the process held, every out-of-memory failure with its verdict, and what
// was still live when the trace ended.
#pragma once

#include "report/symbols/frame_symbolizer.h"
#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

// With a symbolizer, native frames name their function, file and line
// (stack_text.h), and modules it could not read are listed in the notes;
// without one (the preloaded library at exit), frames read as recorded.
Report analyze(const trace::Trace& trace, FrameSymbolizer* symbolizer = nullptr);

}  // namespace oomtrace::report
