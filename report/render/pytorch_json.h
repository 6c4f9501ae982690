// The report's "pytorch" section and "input" field as JSON
// (docs/report-schema.json, $defs/pytorch_snapshot).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "report/verdicts/report.h"

namespace oomtrace::report {

const char* report_input_name(ReportInput input);  // "trace", "torch_snapshot"

// One object per snapshot read; an empty array when there was none.
nlohmann::ordered_json pytorch_json(const std::vector<PytorchSnapshotReport>& snapshots);

}  // namespace oomtrace::report
