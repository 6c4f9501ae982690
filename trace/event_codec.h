// The Event record body, shared by the writer and the reader so the two
// cannot disagree on field order.
#pragma once

#include "allocator/event.h"
#include "trace/encoding.h"

namespace oomtrace::trace {

// An Event's body is 11 varints of 1 to 10 bytes each.
inline constexpr size_t kMinEventBytes = 11;
inline constexpr size_t kMaxEventBytes = 110;

// Out: Encoder, or FixedEncoder for the hot path.
template <typename Out>
void encode_event(Out& out, const Event& event) {
  out.u64(static_cast<uint64_t>(event.type));
  out.u64(static_cast<uint64_t>(event.api));
  out.i64(event.device);
  out.i64(event.result);
  out.u64(event.address);
  out.u64(event.size);
  out.u64(event.stream);
  out.u64(event.handle);
  out.u64(event.time_ns);
  out.u64(event.thread);
  out.u64(event.stack_id);
}

inline Event decode_event(Decoder& in) {
  Event event;
  event.type = static_cast<EventType>(in.u64());
  event.api = static_cast<Api>(in.u64());
  event.device = static_cast<int16_t>(in.i64());
  event.result = static_cast<int32_t>(in.i64());
  event.address = in.u64();
  event.size = in.u64();
  event.stream = in.u64();
  event.handle = in.u64();
  event.time_ns = in.u64();
  event.thread = static_cast<uint32_t>(in.u64());
  event.stack_id = static_cast<uint32_t>(in.u64());
  return event;
}

}  // namespace oomtrace::trace
