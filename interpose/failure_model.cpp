#include "interpose/failure_model.h"

#include <algorithm>
#include <vector>

#include "trace/encoding.h"
#include "trace/event_codec.h"
#include "trace/record_framing.h"

namespace oomtrace::interpose {
namespace {

// Larger than any record (kMaxPayloadBytes), so each read holds at least
// one whole record; freed after the catch-up.
constexpr size_t kChunkBytes = 4 << 20;

// Event and Failure records change the model (a Failure's body begins with
// its event); the others describe it.
void apply_record(ProcessMemory& memory, trace::RecordType type, const uint8_t* payload, size_t length) {
  if (type != trace::RecordType::Event && type != trace::RecordType::Failure) return;
  trace::Decoder in(payload, length);
  Event event = trace::decode_event(in);
  if (in.ok()) memory.apply(event);
}

}  // namespace

bool FailureModel::catch_up(const trace::TraceWriter& writer) {
  uint64_t end = writer.bytes_written();
  if (applied_up_to_ >= end) return true;
  std::vector<uint8_t> chunk(static_cast<size_t>(std::min<uint64_t>(kChunkBytes, end - applied_up_to_)));
  while (applied_up_to_ < end) {
    size_t wanted = static_cast<size_t>(std::min<uint64_t>(chunk.size(), end - applied_up_to_));
    size_t got = writer.read_back(applied_up_to_, chunk.data(), wanted);
    if (got == 0) return false;
    size_t pos = 0;
    while (pos < got) {
      trace::Framed framed = trace::frame_at(chunk.data(), got, pos);
      // End: the chunk ends inside this record, read again from its start.
      if (framed.status != trace::Framed::Record) break;
      apply_record(memory_, framed.type, chunk.data() + framed.body, static_cast<size_t>(framed.length));
      pos = static_cast<size_t>(framed.body + framed.length);
    }
    // Not one whole record in a chunk larger than any record: not a trace
    // this writer wrote; stop rather than loop.
    if (pos == 0) return false;
    applied_up_to_ += pos;
  }
  return true;
}

void FailureModel::reset() {
  memory_ = ProcessMemory{};
  applied_up_to_ = trace::kHeaderSize;
}

}  // namespace oomtrace::interpose
