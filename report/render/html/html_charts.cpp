#include "report/render/html/html_charts.h"

#include <algorithm>
#include <cmath>

#include "report/common/format_bytes.h"
#include "report/render/html/html_text.h"

namespace oomtrace::report::html {
namespace {

using std::to_string;

// The timeline's frame: the plot inside margins for the axes' labels.
constexpr double kPlotLeft = 78;
constexpr double kPlotTop = 14;
constexpr double kPlotWidth = 880;
constexpr double kPlotHeight = 200;

std::string attribute(const std::string& name, double value) {
  return " " + name + "=\"" + svg_number(value) + "\"";
}

std::string rect(const std::string& css_class, double x, double y, double width, double height,
                 const std::string& title, const std::string& extra = "") {
  return "<rect class=\"" + css_class + "\"" + attribute("x", x) + attribute("y", y) + attribute("width", width) +
         attribute("height", height) + extra + "><title>" + escape_html(title) + "</title></rect>";
}

std::string text(double x, double y, const std::string& content, const std::string& extra = "") {
  return "<text" + attribute("x", x) + attribute("y", y) + extra + ">" + escape_html(content) + "</text>";
}

struct TimelineScale {
  uint64_t end_ns = 0;
  double max_bytes = 1;

  double x_of_bucket(size_t bucket) const {
    return kPlotLeft + kPlotWidth * static_cast<double>(bucket) / static_cast<double>(kTimelineBuckets);
  }
  double x_of_time(uint64_t time_ns) const {
    if (end_ns == 0) return kPlotLeft;
    return kPlotLeft + kPlotWidth * static_cast<double>(std::min(time_ns, end_ns)) / static_cast<double>(end_ns);
  }
  double y_of(uint64_t bytes) const {
    return kPlotTop + kPlotHeight * (1.0 - static_cast<double>(bytes) / max_bytes);
  }
};

TimelineScale scale_for(const DeviceTimeline& timeline, uint64_t end_ns) {
  uint64_t top = std::max(timeline.peak_reserved_bytes, timeline.total_bytes.value_or(0));
  for (const TimelinePoint& point : timeline.device_free) top = std::max(top, point.bytes);
  return {end_ns, static_cast<double>(std::max<uint64_t>(top, 1))};
}

// A step line through the buckets' maxima; runs where the value is unknown
// break the line.
template <typename ValueOf>
std::string step_path(const DeviceTimeline& timeline, const TimelineScale& scale, ValueOf value_of) {
  std::string path;
  bool drawing = false;
  for (size_t i = 0; i < timeline.buckets.size(); ++i) {
    std::optional<uint64_t> value = value_of(timeline.buckets[i]);
    if (!value) {
      drawing = false;
      continue;
    }
    double y = scale.y_of(*value);
    path += (drawing ? "L" : "M") + svg_number(scale.x_of_bucket(i)) + " " + svg_number(y) + "H" +
            svg_number(scale.x_of_bucket(i + 1));
    drawing = true;
  }
  return path;
}

std::string timeline_axes(const TimelineScale& scale) {
  std::string svg;
  for (int tick = 0; tick <= 4; ++tick) {
    uint64_t bytes = static_cast<uint64_t>(scale.max_bytes * tick / 4);
    double y = scale.y_of(bytes);
    svg += "<line class=\"grid\"" + attribute("x1", kPlotLeft) + attribute("x2", kPlotLeft + kPlotWidth) +
           attribute("y1", y) + attribute("y2", y) + "/>";
    svg += text(kPlotLeft - 6, y + 4, format_bytes(bytes), " text-anchor=\"end\"");
  }
  for (int tick = 0; tick <= 5; ++tick) {
    uint64_t time_ns = scale.end_ns / 5 * tick;
    svg += text(scale.x_of_time(time_ns), kPlotTop + kPlotHeight + 16, format_axis_time(time_ns, scale.end_ns),
                " text-anchor=\"middle\"");
  }
  return svg;
}

std::string free_points(const DeviceTimeline& timeline, const TimelineScale& scale) {
  if (timeline.device_free.empty()) return "";
  std::string path;
  std::string dots;
  for (const TimelinePoint& point : timeline.device_free) {
    double x = scale.x_of_time(point.time_ns);
    double y = scale.y_of(point.bytes);
    path += (path.empty() ? "M" : "L") + svg_number(x) + " " + svg_number(y);
    dots += "<circle class=\"free-point\"" + attribute("cx", x) + attribute("cy", y) + " r=\"3.5\"><title>" +
            escape_html("device free at " + format_seconds(point.time_ns) + ": " + format_bytes(point.bytes)) +
            "</title></circle>";
  }
  return "<path class=\"device-free\" d=\"" + path + "\"/>" + dots;
}

std::string failure_marks(const DeviceTimeline& timeline, const TimelineScale& scale, const Report& report) {
  std::string svg;
  for (const TimelineMark& mark : timeline.failures) {
    double x = scale.x_of_time(mark.time_ns);
    const FailureReport& failure = report.failures[mark.failure];
    std::string verdict = failure.verdict ? verdict_name(*failure.verdict) : "no verdict";
    std::string title = "failure " + to_string(mark.failure + 1) + " at " + format_seconds(mark.time_ns) + ": " +
                        format_bytes(mark.requested_bytes) + " requested, " + verdict +
                        (mark.recovered ? " (recovered)" : "");
    std::string css = mark.recovered ? "failure-mark recovered" : "failure-mark";
    svg += "<a class=\"" + css + "\" href=\"#failure-" + to_string(mark.failure) + "\" data-failure=\"" +
           to_string(mark.failure) + "\"><title>" + escape_html(title) + "</title>";
    svg += "<line" + attribute("x1", x) + attribute("x2", x) + attribute("y1", kPlotTop) +
           attribute("y2", kPlotTop + kPlotHeight) + "/>";
    svg += "<path d=\"M" + svg_number(x - 6) + " " + svg_number(kPlotTop - 10) + "h12l-6 10z\"/></a>";
  }
  return svg;
}

// Segment rows: to scale when the segments are of like sizes, else each
// bar's width grows with the logarithm of its size (and says its size).
struct MapScale {
  uint64_t largest = 1;
  bool logarithmic = false;
  double width = 640;

  double width_of(uint64_t size) const {
    if (!logarithmic) return width * static_cast<double>(size) / static_cast<double>(largest);
    double floor = std::log2(static_cast<double>(largest)) - 16;  // 1/65536 of the largest at the left edge
    double share = (std::log2(static_cast<double>(std::max<uint64_t>(size, 1))) - floor) /
                   (std::log2(static_cast<double>(largest)) - floor);
    return width * std::clamp(share, 0.02, 1.0);
  }
};

MapScale map_scale(const SegmentMap& map) {
  MapScale scale;
  uint64_t smallest = UINT64_MAX;
  for (const MapSegment& segment : map.segments) {
    scale.largest = std::max(scale.largest, segment.size);
    smallest = std::min(smallest, std::max<uint64_t>(segment.size, 1));
  }
  scale.logarithmic = !map.segments.empty() && scale.largest / smallest > 32;
  return scale;
}

const char* block_class(MapBlockState state) {
  switch (state) {
    case MapBlockState::Allocated: return "block allocated";
    case MapBlockState::PendingFree: return "block pending";
    case MapBlockState::Free: return "block free";
    case MapBlockState::Opaque: return "block opaque";
  }
  return "block";
}

const char* block_word(MapBlockState state) {
  switch (state) {
    case MapBlockState::Allocated: return "allocated";
    case MapBlockState::PendingFree: return "freed, waiting for its stream";
    case MapBlockState::Free: return "free (cached)";
    case MapBlockState::Opaque: return "held (blocks unknown to the driver)";
  }
  return "";
}

std::string segment_row(const MapSegment& segment, const MapScale& scale, double y, double height, bool label) {
  constexpr double kLeft = 8;
  double width = scale.width_of(segment.size);
  std::string title = "segment at 0x" + [&] {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(segment.address));
    return std::string(hex);
  }() + ": " + format_bytes(segment.size) + ", " + format_bytes(segment.free_bytes) + " free";
  std::string svg = rect("segment", kLeft, y, width, height, title);
  double per_byte = width / static_cast<double>(std::max<uint64_t>(segment.size, 1));
  for (const MapBlock& block : segment.blocks) {
    double x = kLeft + per_byte * static_cast<double>(block.offset);
    double w = std::max(per_byte * static_cast<double>(block.size), 0.6);
    svg += rect(block_class(block.state), x, y, std::min(w, kLeft + width - x), height,
                format_bytes(block.size) + " " + block_word(block.state));
  }
  if (label) {
    std::string words = format_bytes(segment.size);
    if (segment.blocks_not_drawn > 0) words += " (" + to_string(segment.blocks_not_drawn) + " small blocks not drawn)";
    svg += text(kLeft + width + 6, y + height - 4, words);
  }
  return svg;
}

// The failed request beside the largest free block, on one linear scale.
std::string request_panel(const SegmentMap& map, double top) {
  constexpr double kLeft = 8;
  constexpr double kWidth = 640;
  uint64_t largest_segment = 0;
  for (const MapSegment& segment : map.segments) largest_segment = std::max(largest_segment, segment.size);
  double scale_bytes = static_cast<double>(std::max({map.requested_bytes, map.largest_free_bytes, largest_segment,
                                                     uint64_t{1}}));
  auto width_of = [&](uint64_t bytes) { return std::max(kWidth * static_cast<double>(bytes) / scale_bytes, 1.0); };
  std::string free_words = map.blocks_known ? "largest free block: " + format_bytes(map.largest_free_bytes)
                                            : "largest free block: unknown (no blocks reported)";
  std::string svg = text(kLeft, top + 12, "to scale:", " class=\"caption\"");
  if (map.requested_bytes > 0) {
    svg += rect("request-bar", kLeft, top + 18, width_of(map.requested_bytes), 16,
                "the failed request: " + format_bytes(map.requested_bytes));
    svg += text(kLeft + std::min(width_of(map.requested_bytes), kWidth) + 6, top + 31,
                "request: " + format_bytes(map.requested_bytes));
  } else {
    svg += text(kLeft, top + 31, "no failed request recorded");
  }
  svg += rect("largest-free-bar", kLeft, top + 40, map.blocks_known ? width_of(map.largest_free_bytes) : 1, 16,
              free_words);
  svg += text(kLeft + (map.blocks_known ? width_of(map.largest_free_bytes) : 1) + 6, top + 53, free_words);
  return svg;
}

}  // namespace

std::string timeline_svg(const DeviceTimeline& timeline, uint64_t end_ns, const Report& report) {
  TimelineScale scale = scale_for(timeline, end_ns);
  double height = kPlotTop + kPlotHeight + 24;
  std::string svg = "<svg class=\"timeline\" data-device=\"" + to_string(timeline.device) + "\" viewBox=\"0 0 " +
                    svg_number(kPlotLeft + kPlotWidth + 36) + " " + svg_number(height) +
                    "\" role=\"img\" aria-label=\"memory over time on GPU " + to_string(timeline.device) + "\">";
  svg += timeline_axes(scale);
  if (timeline.total_bytes) {
    double y = scale.y_of(*timeline.total_bytes);
    svg += "<line class=\"device-total\"" + attribute("x1", kPlotLeft) + attribute("x2", kPlotLeft + kPlotWidth) +
           attribute("y1", y) + attribute("y2", y) + "><title>device total: " +
           escape_html(format_bytes(*timeline.total_bytes)) + "</title></line>";
  }
  std::string reserved = step_path(timeline, scale, [](const TimelineBucket& b) {
    return std::optional<uint64_t>(b.reserved_bytes);
  });
  if (!reserved.empty()) {
    svg += "<path class=\"reserved-area\" d=\"" + reserved + "V" + svg_number(scale.y_of(0)) + "H" +
           svg_number(kPlotLeft) + "Z\"/>";
    svg += "<path class=\"reserved\" d=\"" + reserved + "\"/>";
  }
  std::string allocated = step_path(timeline, scale, [](const TimelineBucket& b) { return b.allocated_bytes; });
  if (!allocated.empty()) svg += "<path class=\"allocated\" d=\"" + allocated + "\"/>";
  svg += free_points(timeline, scale);
  svg += failure_marks(timeline, scale, report);
  return svg + "</svg>";
}

std::string segment_map_svg(const SegmentMap& map, const std::string& owner) {
  MapScale scale = map_scale(map);
  bool roomy = map.segments.size() <= 32;
  double row = roomy ? 20 : 8;
  double rows_height = row * static_cast<double>(map.segments.size());
  double height = rows_height + 70;
  std::string svg = "<svg class=\"segment-map\" data-failure=\"" + escape_html(owner) + "\" data-segments=\"" +
                    to_string(map.segments.size()) +
                    "\" viewBox=\"0 0 960 " + svg_number(height) + "\" role=\"img\" aria-label=\"segment map\">";
  for (size_t i = 0; i < map.segments.size(); ++i) {
    svg += segment_row(map.segments[i], scale, static_cast<double>(i) * row + 2, row - 3, roomy || scale.logarithmic);
  }
  svg += request_panel(map, rows_height + 4);
  return svg + "</svg>";
}

std::string histogram_svg(const SegmentMap& map) {
  constexpr double kLeft = 40;
  constexpr double kBottom = 150;
  constexpr double kBarSpace = 56;
  uint64_t most = 1;
  for (const MapSizeBucket& bucket : map.free_histogram) most = std::max(most, bucket.count);
  double width = kLeft + kBarSpace * static_cast<double>(map.free_histogram.size()) + 20;
  std::string svg = "<svg class=\"histogram\" data-bars=\"" + to_string(map.free_histogram.size()) +
                    "\" viewBox=\"0 0 " + svg_number(std::max(width, 360.0)) + " 190\" style=\"max-width:" +
                    svg_number(std::max(width, 360.0) * 1.25) + "px\" role=\"img\" aria-label=\"free blocks by size\">";
  svg += text(4, 12, to_string(most) + " blocks", " class=\"caption\"");
  svg += "<line class=\"grid\"" + attribute("x1", kLeft) + attribute("x2", width) + attribute("y1", kBottom) +
         attribute("y2", kBottom) + "/>";
  for (size_t i = 0; i < map.free_histogram.size(); ++i) {
    const MapSizeBucket& bucket = map.free_histogram[i];
    double height = 120.0 * static_cast<double>(bucket.count) / static_cast<double>(most);
    double x = kLeft + kBarSpace * static_cast<double>(i) + 6;
    // A bucket whose every block is at least the request could have served it.
    bool fits = bucket.lower_bytes >= map.requested_bytes && map.requested_bytes > 0;
    std::string title = to_string(bucket.count) + " free blocks of " + format_bytes(bucket.lower_bytes) + " to " +
                        format_bytes(bucket.lower_bytes * 2) + ", " + format_bytes(bucket.bytes) + " in all";
    svg += rect(fits ? "hist-bar fits" : "hist-bar", x, kBottom - height, kBarSpace - 12, height, title);
    svg += text(x + (kBarSpace - 12) / 2, kBottom - height - 4, to_string(bucket.count), " text-anchor=\"middle\"");
    svg += text(x + (kBarSpace - 12) / 2, kBottom + 14, "≥" + format_bytes(bucket.lower_bytes),
                " text-anchor=\"middle\" class=\"small\"");
  }
  if (map.requested_bytes > 0) {
    svg += text(kLeft, 182, "request: " + format_bytes(map.requested_bytes), " class=\"caption\"");
  }
  return svg + "</svg>";
}

}  // namespace oomtrace::report::html
