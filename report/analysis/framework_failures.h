// Out-of-memory errors the framework raised itself (trace::FrameworkError:
// PyTorch's c10::OutOfMemoryError seen by the library's __cxa_throw hook, or
// an uncaught CuPy/JAX/PyTorch exception seen by the Python bridge), turned
// into report failures. A per-process memory fraction makes PyTorch fail with
// no CUDA call failing: then this is the only failure the report has.
#pragma once

#include <vector>

#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

// One failure per distinct message (the C++ hook and the Python bridge may
// both see the same error); figures set, not yet judged.
std::vector<FailureReport> framework_failures(const trace::Trace& trace);

}  // namespace oomtrace::report
