// The second path into an attached process: calls made through driver
// pointers resolved before the attach (cudart's internal table,
// cuGetProcAddress or dlsym results, a static cudart) never pass an import
// table the GOT patcher could change, but they do pass through libcuda,
// where CUPTI's driver-API callbacks see them. Each call is recorded as the
// preload wrapper would have recorded it, and at the same moment: a free
// before the driver has the memory back, an allocation once it returned.
#pragma once

#include <string>

namespace oomtrace::interpose {

struct CuptiCoverage {
  bool active = false;
  std::string library;  // the libcupti in use, empty when none was found
  std::string detail;   // one sentence for the report's attach paths
};

// Subscribes to CUPTI and enables the memory functions' callbacks only.
// CUPTI has one subscriber slot per process; when a profiler holds it the
// coverage says so (naming it where CUPTI does) and nothing else changes.
// Calling it again while active returns the same coverage. Call it from the
// attach thread, never from inside a CUDA call.
CuptiCoverage start_cupti_driver_callbacks();

// Stops forwarding, waits for callbacks in flight on other threads, and
// gives the slot back. Safe to call when not started; start may follow.
void stop_cupti_driver_callbacks();

}  // namespace oomtrace::interpose
