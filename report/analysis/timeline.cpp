#include "report/analysis/timeline.h"

#include <algorithm>

namespace oomtrace::report {
namespace {

// A bucket no event landed in holds what the one before it ended with:
// memory stays held between events.
void carry_forward(std::vector<TimelineBucket>& buckets) {
  for (size_t i = 1; i < buckets.size(); ++i) {
    if (buckets[i].seen) continue;
    buckets[i].reserved_bytes = buckets[i - 1].reserved_bytes;
    buckets[i].allocated_bytes = buckets[i - 1].allocated_bytes;
  }
}

void add_failures(const Report& report, DeviceTimeline& timeline) {
  for (size_t i = 0; i < report.failures.size(); ++i) {
    const FailureReport& failure = report.failures[i];
    if (failure.device != timeline.device) continue;
    if (timeline.failures.size() >= kTimelineMarks) {
      ++timeline.failures_not_marked;
      continue;
    }
    timeline.failures.push_back({i, failure.time_ns, failure.requested_bytes, failure.recovered});
    if (failure.device_free_bytes) timeline.device_free.push_back({failure.time_ns, *failure.device_free_bytes});
    if (!timeline.total_bytes) timeline.total_bytes = failure.device_total_bytes;
  }
}

// What the device had free when `oomtrace attach` joined: the first point.
void add_attach_baseline(const Report& report, DeviceTimeline& timeline) {
  if (!report.attach) return;
  for (const AttachDevice& device : report.attach->devices) {
    if (device.device != timeline.device) continue;
    if (device.free_bytes) timeline.device_free.insert(timeline.device_free.begin(), {0, *device.free_bytes});
    if (!timeline.total_bytes) timeline.total_bytes = device.total_bytes;
  }
}

}  // namespace

TimelineBuilder::TimelineBuilder(uint64_t end_ns) : end_ns_(end_ns) {}

size_t TimelineBuilder::bucket_of(uint64_t time_ns) const {
  if (end_ns_ == 0) return 0;
  unsigned __int128 scaled = static_cast<unsigned __int128>(std::min(time_ns, end_ns_)) * kTimelineBuckets;
  return std::min(static_cast<size_t>(scaled / end_ns_), kTimelineBuckets - 1);
}

std::vector<TimelineBucket>& TimelineBuilder::buckets_of(int device) {
  auto [found, inserted] = devices_.try_emplace(device);
  if (inserted) found->second.resize(kTimelineBuckets);
  return found->second;
}

void TimelineBuilder::record(int device, uint64_t time_ns, uint64_t reserved_bytes,
                             std::optional<uint64_t> allocated_bytes) {
  TimelineBucket& bucket = buckets_of(device)[bucket_of(time_ns)];
  bucket.seen = true;
  bucket.reserved_bytes = std::max(bucket.reserved_bytes, reserved_bytes);
  if (allocated_bytes) bucket.allocated_bytes = std::max(bucket.allocated_bytes.value_or(0), *allocated_bytes);
}

Timeline TimelineBuilder::finish(const Report& report) {
  // A device that only failed (nothing held yet) still gets its marks.
  for (const FailureReport& failure : report.failures) {
    if (failure.device >= 0) buckets_of(failure.device);
  }
  Timeline timeline;
  timeline.end_ns = end_ns_;
  for (auto& [device, buckets] : devices_) {
    carry_forward(buckets);
    DeviceTimeline entry;
    entry.device = device;
    for (const DeviceSummary& summary : report.devices) {
      if (summary.index == device) entry.total_bytes = summary.total_bytes;
    }
    for (const TimelineBucket& bucket : buckets) {
      entry.peak_reserved_bytes = std::max(entry.peak_reserved_bytes, bucket.reserved_bytes);
    }
    entry.buckets = std::move(buckets);
    add_attach_baseline(report, entry);
    add_failures(report, entry);
    timeline.devices.push_back(std::move(entry));
  }
  devices_.clear();
  return timeline;
}

}  // namespace oomtrace::report
