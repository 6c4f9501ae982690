// Writes a synthetic trace of N events shaped like a PyTorch training run
// under the caching allocator: 20 MiB segments from cudaMalloc, blocks
// handed out of them through the pool API, a bounded live set that churns
// every step, and one fragmentation failure at the end. It is what the
// report-speed benchmark (bench/report_speed.py) reads: a trace of ten
// million events, made in seconds without a GPU or the library.
//
//   large_trace OUT.trace EVENTS
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "reproducible_random.h"
#include "trace/writer.h"

namespace {

using namespace oomtrace;

constexpr uint64_t kSegmentBytes = 20ull << 20;
constexpr uint64_t kDeviceBytes = 80ull << 30;
constexpr int kSegments = 64;
constexpr int kBlocksPerSegment = 16;
constexpr int kStacks = 24;

struct Generator {
  trace::TraceWriter writer;
  uint64_t time_ns = 0;
  uint64_t events = 0;
  ReproducibleRandom random;

  uint64_t next_random() { return random.next(); }

  void event(EventType type, Api api, uint64_t address, uint64_t size, uint32_t stack) {
    Event e;
    e.type = type;
    e.api = api;
    e.device = 0;
    e.address = address;
    e.size = size;
    time_ns += 1000 + next_random() % 1000;
    e.time_ns = time_ns;
    e.thread = 4242;
    e.stack_id = stack;
    if (type == EventType::AllocFailed) e.result = 2;  // cudaErrorMemoryAllocation
    writer.write_event(e);
    ++events;
  }

  void write_stacks() {
    for (uint32_t id = 1; id <= kStacks; ++id) {
      trace::FrameInfo frame;
      frame.id = id;
      frame.address = 0x400000 + id * 0x40;
      frame.module = "/opt/train/bin/train";
      frame.symbol = "layer_" + std::to_string(id) + "_forward";
      frame.offset = 0x18;
      writer.write_frame(frame);
      trace::StackInfo stack;
      stack.id = id;
      stack.frames = {id};
      writer.write_stack(stack);
    }
  }
};

uint64_t segment_address(int segment) { return 0x7f0000000000ull + static_cast<uint64_t>(segment) * kSegmentBytes; }
uint64_t block_address(int segment, int block) {
  return segment_address(segment) + static_cast<uint64_t>(block) * (kSegmentBytes / kBlocksPerSegment);
}

bool parse_count(const char* text, uint64_t& value) {
  const char* end = text + std::strlen(text);
  auto [ptr, error] = std::from_chars(text, end, value);
  return error == std::errc() && ptr == end;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t wanted = 0;
  if (argc != 3 || !parse_count(argv[2], wanted) || wanted < 1000) {
    std::fprintf(stderr, "usage: large_trace OUT.trace EVENTS (>= 1000)\n");
    return 2;
  }
  Generator g;
  if (!g.writer.create(argv[1])) {
    std::fprintf(stderr, "large_trace: cannot create %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  trace::ProcessInfo process;
  process.pid = 4242;
  process.host = "bench-host";
  process.executable = "/opt/train/bin/train";
  process.argv = {"train", "--steps", "100000"};
  process.start_unix_ns = 1'800'000'000'000'000'000ull;
  g.writer.write_process(process);
  g.writer.write_device({0, "Simulated H100 80GB", kDeviceBytes, "0000:01:00.0"});
  g.writer.write_setting({"PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:512"});
  g.write_stacks();

  for (int s = 0; s < kSegments; ++s) g.event(EventType::Alloc, Api::cudaMalloc, segment_address(s), kSegmentBytes, 1);
  // Each step frees one block and hands out another of the same slot: the
  // live set stays bounded while the event count grows.
  std::vector<bool> live(kSegments * kBlocksPerSegment, false);
  const uint64_t block_bytes = kSegmentBytes / kBlocksPerSegment;
  uint64_t steady = wanted - kSegments - 1;
  while (g.events < kSegments + steady) {
    size_t slot = g.next_random() % live.size();
    int segment = static_cast<int>(slot / kBlocksPerSegment);
    int block = static_cast<int>(slot % kBlocksPerSegment);
    uint32_t stack = 1 + static_cast<uint32_t>(slot % kStacks);
    if (live[slot]) {
      g.event(EventType::Free, Api::oomtrace_pool_free, block_address(segment, block), block_bytes, stack);
    } else {
      g.event(EventType::Alloc, Api::oomtrace_pool_alloc, block_address(segment, block), block_bytes, stack);
    }
    live[slot] = !live[slot];
  }
  // A request larger than any free block though the free bytes would hold it.
  // A Failure record carries its event: no separate Event record.
  trace::FailureContext failure;
  g.time_ns += 1000;
  ++g.events;
  failure.event.type = EventType::AllocFailed;
  failure.event.api = Api::cudaMalloc;
  failure.event.device = 0;
  failure.event.size = 4 * kSegmentBytes;
  failure.event.time_ns = g.time_ns;
  failure.event.thread = 4242;
  failure.event.stack_id = 2;
  failure.event.result = 2;
  failure.device_total_bytes = kDeviceBytes;
  failure.device_free_bytes = 40ull << 20;
  failure.device_info_known = true;
  failure.process_reserved_bytes = kSegments * kSegmentBytes;
  failure.process_segments = kSegments;
  g.writer.write_failure(failure);
  trace::Trailer trailer;
  trailer.events = g.events;
  trailer.end_time_ns = g.time_ns;
  trailer.exit_reason = "exit";
  g.writer.finish(trailer);
  std::printf("%s: %llu events\n", argv[1], static_cast<unsigned long long>(g.events));
  return 0;
}
