// `oomtrace report --format html`: one self-contained page (inline CSS, SVG
// and a little script; nothing fetched) drawn from the Report and the
// pictures report/analysis/report_visuals.h worked out.
#pragma once

#include <string>

#include "report/analysis/report_visuals.h"
#include "report/verdicts/report.h"

namespace oomtrace::report {

std::string render_html(const Report& report, const ReportVisuals& visuals);

}  // namespace oomtrace::report
