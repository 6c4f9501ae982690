// The model of what the process holds (allocator/process_memory.h), kept off
// the hot path. A hook only appends its record to the trace; a failure,
// which is rare, brings this model up to date by reading the records back
// from where it stopped the last time, then reads the figures the Failure
// record carries. Same events, same order, same class as the report's
// replay: the same numbers, without paying for them on every call.
#pragma once

#include <cstdint>

#include "allocator/process_memory.h"
#include "trace/format.h"
#include "trace/writer.h"

namespace oomtrace::interpose {

class FailureModel {
 public:
  // Applies the records the writer holds past the last catch-up. Called
  // with the recorder's lock held, so that every record is whole. False
  // when the trace could not be read back (the model stays as far as it
  // got, and the report falls back to its own replay).
  bool catch_up(const trace::TraceWriter& writer);
  const ProcessMemory& memory() const { return memory_; }
  // For a new trace (a forked child, a new attach).
  void reset();

 private:
  ProcessMemory memory_;
  uint64_t applied_up_to_ = trace::kHeaderSize;
};

}  // namespace oomtrace::interpose
