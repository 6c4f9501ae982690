// Replays a recording through the model under some settings: the requests
// and frees as the program made them, the device allocations as the model
// decides them. Measures what the settings would have needed and, on a
// device of a given capacity, where the first request would have failed.
//
// With the recording's own settings and addresses (use_recorded_addresses),
// the replay also says how faithfully the model reproduces the recording:
// how many allocations land at the recorded address, and how many of the
// recorded device allocations it makes, with the same size, in the same
// order.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "allocator/caching_allocator/caching_allocator.h"
#include "allocator/caching_allocator/initial_state.h"
#include "allocator/caching_allocator/recorded_addresses.h"
#include "allocator/caching_allocator/recording.h"
#include "allocator/caching_allocator/simulated_device.h"

namespace oomtrace::caching {

struct ReplayOptions {
  AllocatorConfig config;
  uint64_t capacity = SimulatedDevice::kUnlimited;  // memory the process may hold
  bool use_recorded_addresses = false;
  // Replay the recording's failed requests ("oom" entries) as requests: on
  // for a what-if (would it fail now?), off to reproduce the recording (the
  // request got no memory there).
  bool replay_failed_requests = true;
};

struct Fidelity {
  uint64_t allocations_recorded = 0;
  uint64_t allocations_same_address = 0;
  uint64_t segment_allocs_recorded = 0;
  uint64_t segment_allocs_reproduced = 0;

  // The lower of the two shares; 1 when nothing was recorded.
  double share() const;
};

struct ReplayResult {
  uint64_t events = 0;
  uint64_t peak_reserved_bytes = 0;
  uint64_t peak_allocated_bytes = 0;
  double fragmentation_at_peak = 0;  // 1 - largest free block / cached free, when reserved peaked
  uint64_t device_allocations = 0;
  uint64_t failed_requests = 0;
  std::optional<uint64_t> first_failure_event;  // source index of the first request that failed
  uint64_t recorded_peak_reserved_bytes = 0;    // the recording's own: initial segments plus its device allocations
  uint64_t initial_segments_refused = 0;        // initial segments the model could not take on
  Fidelity fidelity;                            // filled with use_recorded_addresses
};

class Replayer {
 public:
  Replayer(const Recording& recording, const InitialState& initial, const ReplayOptions& options);
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  ReplayResult run();
  const CachingAllocator& model() const { return model_; }

 private:
  void seed(const InitialState& initial);
  void apply(const ReplayEvent& event, bool follows_segment_free);
  void on_alloc(const ReplayEvent& event);
  void on_failed_request(const ReplayEvent& event);
  void on_free_requested(const ReplayEvent& event);
  void on_free_completed(const ReplayEvent& event);
  void on_segment_alloc(const ReplayEvent& event);
  void on_segment_free(const ReplayEvent& event, bool follows_segment_free);
  void note_failure(const ReplayEvent& event);
  void note_peak();

  const Recording& recording_;
  ReplayOptions options_;
  RecordedAddresses recorded_addresses_;
  SimulatedDevice device_;
  CachingAllocator model_;
  std::unordered_map<uint64_t, uint64_t> model_address_;  // recorded block address -> the model's
  uint64_t recorded_reserved_ = 0;
  uint64_t last_peak_ = 0;
  ReplayResult result_;
};

// One replay, start to end.
ReplayResult replay(const Recording& recording, const InitialState& initial, const ReplayOptions& options);

}  // namespace oomtrace::caching
