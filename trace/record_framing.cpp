#include "trace/record_framing.h"

#include "trace/encoding.h"

namespace oomtrace::trace {
namespace {

// The varint after a record's type byte; returns how many bytes it took, 0
// when the data ends inside it.
size_t read_length(const uint8_t* data, size_t size, uint64_t& length) {
  Decoder in(data, size);
  length = in.u64();
  return in.ok() ? in.consumed() : 0;
}

}  // namespace

Framed frame_at(const uint8_t* data, size_t size, size_t pos) {
  Framed framed;
  framed.type = static_cast<RecordType>(data[pos]);
  if (framed.type == RecordType::End) return framed;
  size_t length_bytes = read_length(data + pos + 1, size - pos - 1, framed.length);
  if (length_bytes == 0) return framed;
  if (framed.length > kMaxPayloadBytes) {
    framed.status = Framed::Oversized;
    return framed;
  }
  framed.body = pos + 1 + length_bytes;
  if (framed.length > size - framed.body) return framed;
  framed.status = Framed::Record;
  return framed;
}

}  // namespace oomtrace::trace
