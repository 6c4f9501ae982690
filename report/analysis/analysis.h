// Replays a trace through the memory model and works out the report: what
// the process held, every out-of-memory failure with its verdict, and what
// was still live when the trace ended.
#pragma once

#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

Report analyze(const trace::Trace& trace);

}  // namespace oomtrace::report
