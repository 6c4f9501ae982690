// A process `oomtrace attach` joined: the memory it held before the attach
// has no recorded allocation, so the figures at a failure (from the
// library's model, after the attach only) leave it out. This adds it back,
// named as held before attach, origin unknown, so a process that held
// 2 GiB then still held it when it failed.
#pragma once

#include <optional>

#include "report/verdicts/report.h"
#include "trace/reader.h"

namespace oomtrace::report {

std::optional<AttachSummary> summarize_attach(const trace::Trace& trace);

// Adds each failure's device's baseline to what the process held. Before
// the verdict is judged.
void add_baseline_to_failures(const AttachSummary& attach, std::vector<FailureReport>& failures);

// After the verdict: one sentence on the baseline in each explanation.
void explain_baseline(std::vector<FailureReport>& failures);

}  // namespace oomtrace::report
