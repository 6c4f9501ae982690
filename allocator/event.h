// One intercepted call, as the hooks record it, the trace stores it and the
// model replays it. Plain data: no pointers, fixed size.
#pragma once

#include <cstdint>

#include "allocator/api.h"

namespace oomtrace {

enum class EventType : uint8_t {
  Alloc = 1,        // the call succeeded and now holds memory
  Free = 2,         // the call succeeded and gave memory back
  AllocFailed = 3,  // the call returned out-of-memory
};

inline constexpr int kHostDevice = -1;  // host-pinned memory has no device

struct Event {
  EventType type = EventType::Alloc;
  Api api = Api::Unknown;
  // kHostDevice also on frees and pool blocks (the library writes them
  // without one since 2026-12): the segment holding the address says which.
  int16_t device = kHostDevice;
  int32_t result = 0;      // the CUDA status the call returned
  uint64_t address = 0;    // pointer; for cuMemCreate/cuMemRelease the handle
  uint64_t size = 0;       // bytes held (requested bytes for a failure)
  uint64_t stream = 0;     // stream-ordered calls; 0 otherwise
  uint64_t handle = 0;     // cuMemMap: the physical handle being mapped
  uint64_t time_ns = 0;    // since the trace began
  uint32_t thread = 0;     // kernel thread id
  uint32_t stack_id = 0;   // interned native stack; 0 when none was taken
};

}  // namespace oomtrace
