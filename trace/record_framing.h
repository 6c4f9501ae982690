// Where one record of a trace begins and ends: `type | varint length |
// payload`. Shared by the reader, which builds a whole Trace, and by the
// preloaded library, which reads its own trace back at a failure.
#pragma once

#include <cstddef>
#include <cstdint>

#include "trace/encoding.h"
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

// The record at `pos`, which must be below `size`. Inline: reading a long
// trace calls it once per record.
inline Framed frame_at(const uint8_t* data, size_t size, size_t pos) {
  Framed framed;
  framed.type = static_cast<RecordType>(data[pos]);
  if (framed.type == RecordType::End) return framed;
  // The length's varint; the data may end inside it.
  Decoder length(data + pos + 1, size - pos - 1);
  framed.length = length.u64();
  if (!length.ok()) return framed;
  if (framed.length > kMaxPayloadBytes) {
    framed.status = Framed::Oversized;
    return framed;
  }
  framed.body = pos + 1 + length.consumed();
  if (framed.length > size - framed.body) return framed;
  framed.status = Framed::Record;
  return framed;
}

}  // namespace oomtrace::trace
