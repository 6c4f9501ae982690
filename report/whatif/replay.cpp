#include "report/whatif/replay.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace oomtrace::report {
namespace {

// A retry that got memory: what PyTorch does after emptying its cache.
bool is_device_allocation(const Event& event) {
  if (event.type != EventType::Alloc || event.device == kHostDevice) return false;
  MemoryKind kind = api_memory_kind(event.api);
  return kind == MemoryKind::Device || kind == MemoryKind::PhysicalHandle;
}

class Replayer {
 public:
  explicit Replayer(const trace::Trace& trace) : trace_(trace) {
    result_.failures.resize(trace.failures.size());
    failure_order_.resize(trace.failures.size());
    std::iota(failure_order_.begin(), failure_order_.end(), size_t{0});
    std::stable_sort(failure_order_.begin(), failure_order_.end(), [&](size_t a, size_t b) {
      return trace.failures[a].event_index < trace.failures[b].event_index;
    });
  }

  Replay run() {
    const std::vector<Event>& events = trace_.events;
    for (size_t i = 0; i < events.size(); ++i) {
      snapshot_failures_up_to(i);
      if (is_device_allocation(events[i])) settle(events[i].device);
      result_.memory.apply(events[i]);
    }
    // A failure indexed past the events (a cut trace) sees the final state.
    snapshot_failures_up_to(SIZE_MAX);
    return std::move(result_);
  }

 private:
  void snapshot_failures_up_to(size_t event_index) {
    while (next_failure_ < failure_order_.size()) {
      size_t index = failure_order_[next_failure_];
      const trace::RecordedFailure& failure = trace_.failures[index];
      if (failure.event_index > event_index) break;
      int device = failure.context.event.device;
      const DeviceFigures& figures = result_.memory.device(device);
      result_.failures[index].reserved_bytes = figures.reserved_bytes;
      result_.failures[index].segments = figures.segment_count;
      result_.failures[index].stream_ordered_bytes = figures.stream_ordered_bytes;
      result_.failures[index].blocks = result_.memory.block_figures(device);
      awaiting_retry_[device].push_back(index);
      ++next_failure_;
    }
  }

  // A successful allocation on the device: every failure waiting there was
  // survived; what the process gave back since then was its cache.
  void settle(int device) {
    auto waiting = awaiting_retry_.find(device);
    if (waiting == awaiting_retry_.end()) return;
    uint64_t reserved_now = result_.memory.device(device).reserved_bytes;
    for (size_t index : waiting->second) {
      FailureSnapshot& snapshot = result_.failures[index];
      snapshot.recovered = true;
      if (snapshot.reserved_bytes > reserved_now) snapshot.released_after_bytes = snapshot.reserved_bytes - reserved_now;
    }
    awaiting_retry_.erase(waiting);
  }

  const trace::Trace& trace_;
  Replay result_;
  std::vector<size_t> failure_order_;
  size_t next_failure_ = 0;
  std::map<int, std::vector<size_t>> awaiting_retry_;
};

}  // namespace

Replay replay(const trace::Trace& trace) { return Replayer(trace).run(); }

}  // namespace oomtrace::report
