#include "allocator/caching_allocator/replayer.h"

#include <algorithm>

namespace oomtrace::caching {

double Fidelity::share() const {
  double allocations = allocations_recorded ? static_cast<double>(allocations_same_address) /
                                                  static_cast<double>(allocations_recorded)
                                            : 1.0;
  double segments = segment_allocs_recorded ? static_cast<double>(segment_allocs_reproduced) /
                                                  static_cast<double>(segment_allocs_recorded)
                                            : 1.0;
  return std::min(allocations, segments);
}

Replayer::Replayer(const Recording& recording, const InitialState& initial, const ReplayOptions& options)
    : recording_(recording),
      options_(options),
      device_(options.capacity, options.use_recorded_addresses ? &recorded_addresses_ : nullptr),
      model_(options.config, device_) {
  seed(initial);
}

// The memory held before the first event, the same in every replay.
void Replayer::seed(const InitialState& initial) {
  for (const ExistingSegment& segment : initial.segments) {
    recorded_reserved_ += segment.size;
    if (!model_.adopt_segment(segment)) {
      ++result_.initial_segments_refused;
      continue;
    }
    for (const ExistingBlock& block : segment.blocks) model_address_[block.address] = block.address;
  }
  model_address_.reserve(model_address_.size() + recording_.events.size() / 2);
  result_.recorded_peak_reserved_bytes = recorded_reserved_;
  note_peak();
}

ReplayResult Replayer::run() {
  bool follows_segment_free = false;
  for (const ReplayEvent& event : recording_.events) {
    apply(event, follows_segment_free);
    follows_segment_free = event.action == ReplayAction::SegmentFree || event.action == ReplayAction::SegmentUnmap;
  }
  const AllocatorStats& stats = model_.stats();
  result_.events = recording_.events.size();
  result_.peak_reserved_bytes = stats.peak_reserved_bytes;
  result_.peak_allocated_bytes = stats.peak_allocated_bytes;
  result_.device_allocations = stats.device_allocations;
  if (options_.use_recorded_addresses) {
    result_.fidelity.segment_allocs_recorded = recorded_addresses_.recorded_count();
    result_.fidelity.segment_allocs_reproduced = recorded_addresses_.reproduced_count();
  }
  return result_;
}

void Replayer::apply(const ReplayEvent& event, bool follows_segment_free) {
  switch (event.action) {
    case ReplayAction::Alloc:
      on_alloc(event);
      break;
    case ReplayAction::Oom:
      if (options_.replay_failed_requests) on_failed_request(event);
      break;
    case ReplayAction::FreeRequested:
      on_free_requested(event);
      break;
    case ReplayAction::FreeCompleted:
      on_free_completed(event);
      break;
    case ReplayAction::SegmentAlloc:
    case ReplayAction::SegmentMap:
      on_segment_alloc(event);
      break;
    case ReplayAction::SegmentFree:
    case ReplayAction::SegmentUnmap:
      on_segment_free(event, follows_segment_free);
      break;
  }
}

void Replayer::on_alloc(const ReplayEvent& event) {
  ++result_.fidelity.allocations_recorded;
  std::optional<Allocation> allocation = model_.allocate(event.size, event.stream);
  recorded_addresses_.request_done();
  if (!allocation) {
    note_failure(event);
    model_address_.erase(event.address);  // its frees find nothing
    return;
  }
  if (allocation->address == event.address) ++result_.fidelity.allocations_same_address;
  model_address_[event.address] = allocation->address;
  note_peak();
}

// The recording's request failed. If the model serves it, the program
// would have gone on with it: the block stays out, since the recording
// never frees it.
void Replayer::on_failed_request(const ReplayEvent& event) {
  std::optional<Allocation> allocation = model_.allocate(event.size, event.stream);
  recorded_addresses_.request_done();
  if (!allocation) {
    note_failure(event);
    return;
  }
  note_peak();
}

void Replayer::on_free_requested(const ReplayEvent& event) {
  auto it = model_address_.find(event.address);
  if (it != model_address_.end()) model_.request_free(it->second);
}

void Replayer::on_free_completed(const ReplayEvent& event) {
  auto it = model_address_.find(event.address);
  if (it == model_address_.end()) return;
  model_.complete_free(it->second);
  model_address_.erase(it);
}

void Replayer::on_segment_alloc(const ReplayEvent& event) {
  recorded_reserved_ += event.size;
  result_.recorded_peak_reserved_bytes = std::max(result_.recorded_peak_reserved_bytes, recorded_reserved_);
  if (options_.use_recorded_addresses) recorded_addresses_.recorded(event.address, event.size);
}

// The recording gave memory back: that segment when the model holds it
// whole and free; else the program (or PyTorch's out-of-memory path)
// emptied the cache, once for the whole run of releases.
void Replayer::on_segment_free(const ReplayEvent& event, bool follows_segment_free) {
  recorded_reserved_ -= std::min(recorded_reserved_, event.size);
  if (event.action == ReplayAction::SegmentFree && model_.release_segment(event.address)) return;
  if (!follows_segment_free) model_.empty_cache();
}

void Replayer::note_failure(const ReplayEvent& event) {
  ++result_.failed_requests;
  if (!result_.first_failure_event) result_.first_failure_event = event.source_index;
}

// Fragmentation is measured whenever reserved memory reaches a new peak.
void Replayer::note_peak() {
  const AllocatorStats& stats = model_.stats();
  if (stats.peak_reserved_bytes <= last_peak_ && last_peak_ != 0) return;
  last_peak_ = stats.peak_reserved_bytes;
  uint64_t cached_free = stats.reserved_bytes - std::min(stats.reserved_bytes, stats.allocated_bytes);
  result_.fragmentation_at_peak =
      cached_free == 0 ? 0.0
                       : 1.0 - static_cast<double>(model_.largest_free_block()) / static_cast<double>(cached_free);
}

ReplayResult replay(const Recording& recording, const InitialState& initial, const ReplayOptions& options) {
  Replayer replayer(recording, initial, options);
  return replayer.run();
}

}  // namespace oomtrace::caching
