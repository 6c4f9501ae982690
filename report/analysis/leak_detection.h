// Whether live device memory grew steadily over a run, the mark of memory
// kept from one iteration to the next, and which allocation sites grew.
//
// The trace's device allocations and frees are replayed in order and cut
// into kLeakWindows windows of equal event count. The low point of each
// window is the memory that stayed: in a training loop, what outlives a
// step. A leak is suspected when those low points never fall (a dip of up to
// 1% of the peak is noise), rise in at least half of the steps between
// windows, still rise in the second half of the run, and grow in all by at
// least a tenth of the peak. A cache warming up rises once and then stays
// flat, so it does not qualify.
#pragma once

#include <cstddef>

#include "report/symbols/frame_symbolizer.h"
#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

inline constexpr size_t kLeakWindows = 8;
// Fewer device allocations and frees than this say nothing about a trend.
inline constexpr size_t kLeakMinimumEvents = 4 * kLeakWindows;
inline constexpr size_t kLeakSitesShown = 5;

LeakSignal detect_leak(const trace::Trace& trace, FrameSymbolizer* symbolizer = nullptr);

}  // namespace oomtrace::report
