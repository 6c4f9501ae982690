// The failure report's answer to "which allocator setting would have
// avoided this?", taken from a replay instead of a rule of thumb: when a
// PyTorch snapshot with its allocation history is attached to the failure,
// or the trace holds the program's blocks (pool API) of a PyTorch-style
// caching allocator, the recorded requests are replayed through the model
// (report/whatif.h) at the memory the process could have had, under the
// recorded settings and the sweep's alternatives. Recordings of more than a
// million events are left to `oomtrace whatif` (the report may be written at
// the traced program's exit).
#pragma once

#include "report/verdicts/allocator_settings.h"
#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

// Fills FailureReport::replay for each failure a replay can speak to:
// judged (a verdict) and caused inside the process's own memory
// (fragmentation, exhausted, other processes); a request larger than the
// device or a configured cap is not the allocator's policy.
void add_replay_findings(const trace::Trace& trace, const AllocatorSettings& settings, Report& report);

// Puts the replay's recommendation first among the failure's suggestions,
// in place of the allocator settings guessed from the figures, and says in
// the explanation what the replay showed.
void apply_replay_finding(FailureReport& failure, const AllocatorSettings& settings);

}  // namespace oomtrace::report
