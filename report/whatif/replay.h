// One pass over a trace's events through ProcessMemory, noting what the
// model held at each failure and whether the process got past it.
#pragma once

#include <cstdint>
#include <vector>

#include "allocator/process_memory.h"
#include "trace/reader.h"

namespace oomtrace::report {

struct FailureSnapshot {
  uint64_t reserved_bytes = 0;  // the model, just before the failed call
  uint32_t segments = 0;
  bool recovered = false;       // a later allocation on the device succeeded
  uint64_t released_after_bytes = 0;  // freed between failure and recovery
  uint64_t stream_ordered_bytes = 0;  // part of reserved_bytes: live async blocks
  BlockFigures blocks;                // inside the segments (pool API blocks)
};

struct Replay {
  ProcessMemory memory;                   // state after the last event
  std::vector<FailureSnapshot> failures;  // parallel to Trace::failures
};

Replay replay(const trace::Trace& trace);

}  // namespace oomtrace::report
