// The report for a PyTorch memory snapshot given to `oomtrace report` on its
// own, without a trace: the same Report, with input TorchSnapshot, no
// failures, and everything the snapshot says in its pytorch section.
#pragma once

#include <string>

#include "report/verdicts/report.h"
#include "report/snapshot/torch_snapshot.h"

namespace oomtrace::report {

Report report_from_torch_snapshot(const std::string& path, const TorchSnapshot& snapshot);

}  // namespace oomtrace::report
