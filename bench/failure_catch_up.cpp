// What the first failure of a long run costs now that the library keeps no
// model on the hot path (interpose/failure_model.h): the failing call waits
// while the model reads the whole trace back. Writes a trace of N events
// shaped like a training run (segments from cudaMalloc, blocks through the
// pool API churning inside them), then times one catch-up over all of it,
// then a second one over the next 1000 events, as a later failure pays.
//
//   failure_catch_up EVENTS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "interpose/failure_model.h"
#include "reproducible_random.h"
#include "trace/writer.h"

namespace {

using namespace oomtrace;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSegmentBytes = 20ull << 20;
constexpr int kSegments = 64;
constexpr int kBlocksPerSegment = 16;

struct RunShapedTrace {
  trace::TraceWriter& writer;
  std::vector<bool> live = std::vector<bool>(kSegments * kBlocksPerSegment, false);
  ReproducibleRandom random;
  uint64_t events = 0;

  void write(EventType type, Api api, int device, uint64_t address, uint64_t size) {
    Event event;
    event.type = type;
    event.api = api;
    event.device = static_cast<int16_t>(device);
    event.address = address;
    event.size = size;
    event.time_ns = events * 1000;
    event.thread = 4242;
    writer.write_event(event);
    ++events;
  }

  void segments() {
    for (int s = 0; s < kSegments; ++s) write(EventType::Alloc, Api::cudaMalloc, 0, segment(s), kSegmentBytes);
  }

  void churn(uint64_t count) {
    const uint64_t block_bytes = kSegmentBytes / kBlocksPerSegment;
    for (uint64_t i = 0; i < count; ++i) {
      size_t slot = random.next() % live.size();
      uint64_t address = segment(static_cast<int>(slot / kBlocksPerSegment)) + (slot % kBlocksPerSegment) * block_bytes;
      bool alloc = !live[slot];
      write(alloc ? EventType::Alloc : EventType::Free, alloc ? Api::oomtrace_pool_alloc : Api::oomtrace_pool_free,
            kHostDevice, address, block_bytes);
      live[slot] = alloc;
    }
  }

  static uint64_t segment(int index) { return 0x7f0000000000ull + static_cast<uint64_t>(index) * kSegmentBytes; }
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  uint64_t events = argc == 2 ? std::strtoull(argv[1], &end, 10) : 0;
  if (argc != 2 || *end != '\0' || events < 1000) {
    std::fprintf(stderr, "usage: failure_catch_up EVENTS (>= 1000)\n");
    return 2;
  }
  std::string path = (std::filesystem::temp_directory_path() /
                      ("oomtrace-catch-up-" + std::to_string(getpid()) + ".trace")).string();
  trace::TraceWriter writer;
  if (!writer.create(path)) {
    std::fprintf(stderr, "failure_catch_up: cannot create %s\n", path.c_str());
    return 1;
  }
  RunShapedTrace run{writer};
  run.segments();
  run.churn(events - kSegments);

  interpose::FailureModel model;
  Clock::time_point start = Clock::now();
  bool read_all = model.catch_up(writer);
  double first = seconds_since(start);
  run.churn(1000);
  start = Clock::now();
  read_all = model.catch_up(writer) && read_all;
  double later = seconds_since(start);
  uint64_t trace_bytes = writer.bytes_written();
  writer.finish({});
  std::filesystem::remove(path);
  if (!read_all || model.memory().device(0).segment_count != kSegments) {
    std::fprintf(stderr, "failure_catch_up: the model did not read the trace back\n");
    return 1;
  }
  std::printf("first failure after %llu events (%.0f MiB of trace): the model catches up in %.2f s, %.1f M events/s; "
              "a later failure, 1000 events on: %.3f ms\n",
              static_cast<unsigned long long>(events), trace_bytes / 1048576.0, first, events / first / 1e6,
              later * 1e3);
  return 0;
}
