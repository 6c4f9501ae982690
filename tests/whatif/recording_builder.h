// Recordings written out by hand, as a PyTorch snapshot's trace would show
// them: segment_alloc before the alloc it served, frees in two halves.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "allocator/caching_allocator/recording.h"

namespace oomtrace::test {

class RecordingBuilder {
 public:
  RecordingBuilder& alloc(uint64_t address, uint64_t size, uint64_t stream = 0) {
    return add(caching::ReplayAction::Alloc, address, size, stream);
  }
  RecordingBuilder& free(uint64_t address, uint64_t size = 0) {
    add(caching::ReplayAction::FreeRequested, address, size, 0);
    return add(caching::ReplayAction::FreeCompleted, address, size, 0);
  }
  RecordingBuilder& free_requested(uint64_t address, uint64_t size = 0) {
    return add(caching::ReplayAction::FreeRequested, address, size, 0);
  }
  RecordingBuilder& free_completed(uint64_t address, uint64_t size = 0) {
    return add(caching::ReplayAction::FreeCompleted, address, size, 0);
  }
  RecordingBuilder& segment_alloc(uint64_t address, uint64_t size) {
    return add(caching::ReplayAction::SegmentAlloc, address, size, 0);
  }
  RecordingBuilder& segment_free(uint64_t address, uint64_t size) {
    return add(caching::ReplayAction::SegmentFree, address, size, 0);
  }
  RecordingBuilder& oom(uint64_t size) { return add(caching::ReplayAction::Oom, 0, size, 0); }
  RecordingBuilder& final_segment(caching::RecordedSegment segment) {
    if (!recording_.final_segments) recording_.final_segments.emplace();
    recording_.final_segments->push_back(std::move(segment));
    return *this;
  }
  caching::Recording build() const { return recording_; }

 private:
  RecordingBuilder& add(caching::ReplayAction action, uint64_t address, uint64_t size, uint64_t stream) {
    recording_.events.push_back({action, address, size, stream, recording_.events.size()});
    return *this;
  }

  caching::Recording recording_;
};

}  // namespace oomtrace::test
