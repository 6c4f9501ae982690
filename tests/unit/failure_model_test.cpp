// The library's model, caught up from its own trace at a failure
// (interpose/failure_model.h): the same figures as applying each event as it
// happened, across catch-ups and across the reads' chunk boundaries.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <unistd.h>

#include "interpose/failure_model.h"
#include "trace/writer.h"

using namespace oomtrace;

namespace {

constexpr uint64_t kMiB = 1 << 20;

struct TraceInProgress {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("oomtrace-failure-model-" + std::to_string(getpid()) + ".trace"))
                         .string();
  trace::TraceWriter writer;
  ProcessMemory applied_as_written;

  TraceInProgress() {
    std::filesystem::remove(path);
    REQUIRE(writer.create(path));
    writer.write_process({});
  }
  ~TraceInProgress() { std::filesystem::remove(path); }

  void write(const Event& event) {
    writer.write_event(event);
    applied_as_written.apply(event);
  }
};

Event segment(EventType type, uint64_t address, uint64_t size) {
  Event event;
  event.type = type;
  event.api = type == EventType::Alloc ? Api::cudaMalloc : Api::cudaFree;
  event.device = type == EventType::Alloc ? 0 : kHostDevice;
  event.address = address;
  event.size = size;
  event.time_ns = address;
  return event;
}

Event pool_block(EventType type, uint64_t address, uint64_t size) {
  Event event;
  event.type = type;
  event.api = type == EventType::Alloc ? Api::oomtrace_pool_alloc : Api::oomtrace_pool_free;
  event.device = kHostDevice;  // as the library writes them
  event.address = address;
  event.size = size;
  return event;
}

void check_same(const ProcessMemory& caught_up, const ProcessMemory& expected) {
  CHECK(caught_up.device(0).reserved_bytes == expected.device(0).reserved_bytes);
  CHECK(caught_up.device(0).segment_count == expected.device(0).segment_count);
  CHECK(caught_up.device(0).peak_reserved_bytes == expected.device(0).peak_reserved_bytes);
  CHECK(caught_up.totals().allocations == expected.totals().allocations);
  CHECK(caught_up.totals().frees == expected.totals().frees);
  CHECK(caught_up.totals().pool_allocations == expected.totals().pool_allocations);
  CHECK(caught_up.block_figures(0).allocated_bytes == expected.block_figures(0).allocated_bytes);
}

}  // namespace

TEST_CASE("a caught-up model equals one applied event by event, catch-up after catch-up", "[failure_model]") {
  TraceInProgress trace;
  interpose::FailureModel model;
  REQUIRE(model.catch_up(trace.writer));  // nothing yet
  CHECK(model.memory().device(0).reserved_bytes == 0);

  uint64_t arena = 0x7f0000000000;
  trace.write(segment(EventType::Alloc, arena, 64 * kMiB));
  for (uint64_t i = 0; i < 8; ++i) trace.write(pool_block(EventType::Alloc, arena + i * 8 * kMiB, 8 * kMiB));
  REQUIRE(model.catch_up(trace.writer));
  check_same(model.memory(), trace.applied_as_written);
  CHECK(model.memory().block_figures(0).allocated_bytes == 64 * kMiB);

  // The second catch-up reads only what came after the first.
  for (uint64_t i = 0; i < 8; i += 2) trace.write(pool_block(EventType::Free, arena + i * 8 * kMiB, 0));
  trace.write(segment(EventType::Alloc, arena + 64 * kMiB, 2 * kMiB));
  REQUIRE(model.catch_up(trace.writer));
  check_same(model.memory(), trace.applied_as_written);
  // Four 8 MiB blocks live, and the new segment, which holds no reported
  // blocks, counts as in use whole.
  CHECK(model.memory().block_figures(0).allocated_bytes == 32 * kMiB + 2 * kMiB);
  CHECK(model.memory().device(0).segment_count == 2);
}

TEST_CASE("a catch-up over more than one read keeps the records cut at the chunk's end", "[failure_model]") {
  TraceInProgress trace;
  // About 27 bytes an event: 400 000 pairs cross the 4 MiB reads several
  // times, each cut somewhere inside a record.
  uint64_t base = 0x7f0000000000;
  for (uint64_t i = 0; i < 400000; ++i) {
    uint64_t address = base + (i % 1000) * 4 * kMiB;
    trace.write(segment(EventType::Alloc, address, 2 * kMiB + i % 4096));
    if (i % 1000 != 999) trace.write(segment(EventType::Free, address, 0));
  }
  REQUIRE(trace.writer.bytes_written() > 3 * (4 << 20));
  interpose::FailureModel model;
  REQUIRE(model.catch_up(trace.writer));
  check_same(model.memory(), trace.applied_as_written);
  CHECK(model.memory().device(0).segment_count == 400);
  CHECK(model.memory().totals().allocations == 400000);
}

TEST_CASE("a reset model starts again at the new trace's first record", "[failure_model]") {
  interpose::FailureModel model;
  {
    TraceInProgress first;
    first.write(segment(EventType::Alloc, 0x1000000, 4 * kMiB));
    REQUIRE(model.catch_up(first.writer));
    CHECK(model.memory().device(0).reserved_bytes == 4 * kMiB);
  }
  model.reset();
  TraceInProgress second;
  second.write(segment(EventType::Alloc, 0x2000000, 6 * kMiB));
  REQUIRE(model.catch_up(second.writer));
  CHECK(model.memory().device(0).reserved_bytes == 6 * kMiB);
  CHECK(model.memory().totals().allocations == 1);
}
