// The HTML report's pictures, as inline SVG: the timeline of a device, the
// segment map at a failure and its free-block histogram. Each element a test
// counts carries a class: failure-mark, segment, request-bar, hist-bar.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/analysis/segment_map.h"
#include "report/analysis/timeline.h"
#include "report/verdicts/report.h"

namespace oomtrace::report::html {

// Each failure mark links to the failure's section, "#failure-<index>".
std::string timeline_svg(const DeviceTimeline& timeline, uint64_t end_ns, const Report& report);
// `owner` names what the map belongs to (a failure index, "gpu-N"), as data-failure.
std::string segment_map_svg(const SegmentMap& map, const std::string& owner);
std::string histogram_svg(const SegmentMap& map);

}  // namespace oomtrace::report::html
