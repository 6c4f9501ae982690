// Where one record of a trace begins and ends: `type | varint length |
// payload`. Shared by the reader, which builds a whole Trace, and by the
// preloaded library, which reads its own trace back at a failure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trace/format.h"

namespace oomtrace::trace {

struct Framed {
  enum Status {
    Record,     // a whole record: payload at data + body, `length` bytes
    End,        // zeros (never written), or the data ends inside the record
    Oversized,  // a length no writer produces
  } status = End;
  RecordType type = RecordType::End;
  size_t body = 0;  // offset of the payload
  uint64_t length = 0;
};

// The record at `pos`, which must be below `size`.
Framed frame_at(const uint8_t* data, size_t size, size_t pos);

}  // namespace oomtrace::trace
