// Memory over time, per device, for the HTML report's timeline: reserved
// bytes, allocated bytes where the blocks inside the segments are known, the
// device's free memory where the driver said it, and each failure.
//
// Built while the events are replayed, into a fixed number of buckets of
// equal time: each keeps the highest value it saw, so a peak shorter than a
// bucket still shows, and a trace of ten million events costs as much memory
// as one of ten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "report/verdicts/report.h"

namespace oomtrace::report {

inline constexpr size_t kTimelineBuckets = 400;
// Marks drawn per device; a job that failed more often shows the first ones.
inline constexpr size_t kTimelineMarks = 500;

struct TimelineBucket {
  bool seen = false;  // an event landed in it (else it holds the value before it)
  uint64_t reserved_bytes = 0;                 // the highest in the bucket
  std::optional<uint64_t> allocated_bytes;     // the highest, when blocks were known
};

struct TimelineMark {
  size_t failure = 0;  // index into Report::failures
  uint64_t time_ns = 0;
  uint64_t requested_bytes = 0;
  bool recovered = false;
};

struct TimelinePoint {
  uint64_t time_ns = 0;
  uint64_t bytes = 0;
};

struct DeviceTimeline {
  int device = 0;
  std::optional<uint64_t> total_bytes;
  uint64_t peak_reserved_bytes = 0;
  std::vector<TimelineBucket> buckets;     // kTimelineBuckets, covering [0, Timeline::end_ns]
  std::vector<TimelineMark> failures;      // in time order, at most kTimelineMarks
  size_t failures_not_marked = 0;
  std::vector<TimelinePoint> device_free;  // what the driver said was free, in time order
};

struct Timeline {
  uint64_t end_ns = 0;  // the last event's time; buckets are end_ns / kTimelineBuckets wide
  std::vector<DeviceTimeline> devices;  // by index
};

// Feeds the timeline one event's aftermath at a time; then finish() adds
// what only the report knows (failures, free memory, device totals).
class TimelineBuilder {
 public:
  explicit TimelineBuilder(uint64_t end_ns);

  // The device's memory right after an event at time_ns.
  void record(int device, uint64_t time_ns, uint64_t reserved_bytes, std::optional<uint64_t> allocated_bytes);
  Timeline finish(const Report& report);

 private:
  size_t bucket_of(uint64_t time_ns) const;
  std::vector<TimelineBucket>& buckets_of(int device);

  uint64_t end_ns_ = 0;
  std::map<int, std::vector<TimelineBucket>> devices_;
};

}  // namespace oomtrace::report
