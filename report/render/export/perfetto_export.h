// A trace as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open: {"traceEvents": [...], "displayTimeUnit": "ms"}.
//
//   metadata  ("M") the process's and the failing threads' names
//   counters  ("C") per GPU, "GPU N reserved" (what the process held), and
//             "GPU N allocated" when a program's allocator reported blocks
//             through the pool API (otherwise allocated is reserved)
//   instants  ("i", process scope) each failed allocation, with its api,
//             size and device in args; ("i", thread scope) each out-of-
//             memory error a framework raised
//
// Counters are downsampled so that a trace of millions of events stays a
// file a browser opens: the run is cut into kCounterBuckets equal spans and
// each span keeps, per counter, its lowest, highest and last value, in time
// order. Peaks and troughs survive; a run with fewer changes than spans is
// shown nearly change for change. The JSON is written as text as it goes,
// never built as a tree.
#pragma once

#include <cstddef>
#include <string>

#include "trace/reader.h"

namespace oomtrace::report {

inline constexpr size_t kCounterBuckets = 10000;
// Failed allocations shown one by one; beyond, one instant says how many
// more there were (a retry loop can fail millions of times).
inline constexpr size_t kMaxFailureInstants = 100000;

std::string export_perfetto(const trace::Trace& trace, size_t counter_buckets = kCounterBuckets);

}  // namespace oomtrace::report
