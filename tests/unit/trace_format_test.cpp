// The trace file: what the writer stores, the reader gives back, including
// from files cut short, padded or hostile.
#include <catch2/catch.hpp>

#include <fstream>

#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;

namespace {

TraceBuilder every_record_type() {
  TraceBuilder builder;
  builder.process(777)
      .device(0, 16 * GiB)
      .setting("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
      .note("hooks installed")
      .frame(1, 0x7f0000001234, "libtorch_cuda.so", "c10::cuda::CUDACachingAllocator::malloc", 0x34)
      .frame(2, 0x400000, "python3", "", 0x1000)
      .stack(9, {1, 2})
      .alloc(0, 0x1000, 4 * MiB, Api::cudaMalloc, 9)
      .alloc(-1, 0x2000, 1 * MiB, Api::cudaMallocHost)
      .free(0, 0x1000);
  FailureSpec failure;
  failure.request = 2 * GiB;
  failure.total = 16 * GiB;
  failure.free = 1 * GiB;
  failure.reserved = 14 * GiB;
  failure.segments = 12;
  failure.nvml_known = true;
  failure.processes = {{777, 14 * GiB}, {4242, 1 * GiB}};
  failure.stack_id = 9;
  builder.fail(failure);
  return builder;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> header(uint16_t major, uint16_t minor) {
  std::vector<uint8_t> bytes(trace::kMagic, trace::kMagic + sizeof trace::kMagic);
  bytes.insert(bytes.end(), {static_cast<uint8_t>(major), static_cast<uint8_t>(major >> 8),
                             static_cast<uint8_t>(minor), static_cast<uint8_t>(minor >> 8), 0, 0, 0, 0});
  return bytes;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  trace::ReadResult result = trace::parse_trace(bytes.data(), bytes.size(), "t.trace");
  CHECK_FALSE(result.trace.has_value());
  CHECK(result.error.find('\n') == std::string::npos);
  return result.error;
}

}  // namespace

TEST_CASE("every record type survives a round trip", "[trace]") {
  TempDir dir;
  TraceBuilder builder = every_record_type();
  builder.finish("exit");
  trace::Trace t = builder.build(dir.file("t.trace"));

  REQUIRE(t.process);
  CHECK(t.process->pid == 777);
  CHECK(t.process->host == "testhost");
  CHECK(t.process->argv == std::vector<std::string>{"python3", "train.py", "--batch", "64"});
  REQUIRE(t.devices.count(0) == 1);
  CHECK(t.devices.at(0).name == "Fake GPU");
  CHECK(t.devices.at(0).total_bytes == 16 * GiB);
  REQUIRE(t.settings.size() == 1);
  CHECK(t.settings[0].value == "max_split_size_mb:128");
  CHECK(t.notes == std::vector<std::string>{"hooks installed"});
  CHECK(t.frames.at(1).symbol == "c10::cuda::CUDACachingAllocator::malloc");
  CHECK(t.frames.at(2).symbol.empty());
  CHECK(t.stacks.at(9).frames == std::vector<uint32_t>{1, 2});

  REQUIRE(t.events.size() == 4);
  CHECK(t.events[0].api == Api::cudaMalloc);
  CHECK(t.events[0].size == 4 * MiB);
  CHECK(t.events[0].stack_id == 9);
  CHECK(t.events[1].device == -1);
  CHECK(t.events[2].type == EventType::Free);
  CHECK(t.events[3].type == EventType::AllocFailed);

  REQUIRE(t.failures.size() == 1);
  const trace::RecordedFailure& failure = t.failures[0];
  CHECK(failure.event_index == 3);
  CHECK(failure.context.device_info_known);
  CHECK(failure.context.device_free_bytes == 1 * GiB);
  CHECK(failure.context.process_segments == 12);
  REQUIRE(failure.context.processes.size() == 2);
  CHECK(failure.context.processes[1].pid == 4242);

  REQUIRE(t.trailer);
  CHECK(t.trailer->exit_reason == "exit");
  CHECK(t.trailer->events == 4);
}

TEST_CASE("a trace cut at any byte of its last records reads up to the cut", "[trace]") {
  TempDir dir;
  TraceBuilder builder = every_record_type();
  builder.finish("exit");
  std::string path = dir.file("t.trace");
  builder.write(path);
  std::vector<uint8_t> bytes = read_bytes(path);
  const std::vector<uint64_t>& ends = builder.record_ends();
  REQUIRE(ends.back() == bytes.size());

  // The last six records: the four calls (one of them the failure) and the
  // trailer, cut at every byte.
  uint64_t first_cut = ends[ends.size() - 6];
  for (uint64_t cut = first_cut; cut <= bytes.size(); ++cut) {
    INFO("cut at byte " << cut);
    trace::ReadResult result = trace::parse_trace(bytes.data(), cut, "cut.trace");
    REQUIRE(result.trace.has_value());
    size_t whole_records = 0;
    while (whole_records < ends.size() && ends[whole_records] <= cut) ++whole_records;
    // Records before the four calls: process, device, setting, note,
    // 2 frames, stack = 7.
    size_t expected_events = whole_records > 7 ? std::min<size_t>(whole_records - 7, 4) : 0;
    CHECK(result.trace->events.size() == expected_events);
    CHECK(result.trace->trailer.has_value() == (cut == bytes.size()));
    CHECK(result.trace->data_bytes == (whole_records ? ends[whole_records - 1] : trace::kHeaderSize));
  }
}

TEST_CASE("zeros after the last record are the end of the data", "[trace]") {
  TempDir dir;
  TraceBuilder builder = every_record_type();
  builder.finish("exit");
  std::string path = dir.file("t.trace");
  builder.write(path);
  std::vector<uint8_t> bytes = read_bytes(path);
  size_t size = bytes.size();
  bytes.resize(size + 65536, 0);
  trace::ReadResult result = trace::parse_trace(bytes.data(), bytes.size(), "padded.trace");
  REQUIRE(result.trace);
  CHECK(result.trace->events.size() == 4);
  CHECK(result.trace->data_bytes == size);

  SECTION("an unfinished trace from a killed process reads too") {
    TraceBuilder killed = every_record_type();
    trace::Trace t = killed.build(dir.file("killed.trace"));
    CHECK(t.events.size() == 4);
    CHECK_FALSE(t.trailer);
  }
}

TEST_CASE("files that are not good traces give one clear line", "[trace]") {
  SECTION("empty") {
    CHECK_THAT(parse_error({}), Catch::Contains("is empty"));
  }
  SECTION("bad magic") {
    std::vector<uint8_t> bytes = header(1, 0);
    bytes[0] = 'X';
    CHECK_THAT(parse_error(bytes), Catch::Contains("is not an oomtrace trace"));
  }
  SECTION("shorter than the header") {
    std::vector<uint8_t> bytes(trace::kMagic, trace::kMagic + 8);
    CHECK_THAT(parse_error(bytes), Catch::Contains("is not an oomtrace trace"));
  }
  SECTION("newer major version") {
    CHECK_THAT(parse_error(header(2, 3)), Catch::Contains("trace format 2.3") && Catch::Contains("upgrade oomtrace"));
  }
  SECTION("a record claiming a huge length") {
    std::vector<uint8_t> bytes = header(1, 0);
    bytes.push_back(static_cast<uint8_t>(trace::RecordType::Event));
    for (int i = 0; i < 5; ++i) bytes.push_back(0xff);
    bytes.push_back(0x0f);  // ~2^39 bytes
    bytes.resize(bytes.size() + 64, 0x01);
    CHECK_THAT(parse_error(bytes), Catch::Contains("is corrupt at byte 16") && Catch::Contains("claims"));
  }
  SECTION("a newer minor version with an unknown record type still reads") {
    std::vector<uint8_t> bytes = header(1, 9);
    bytes.insert(bytes.end(), {0x42, 0x03, 0x01, 0x02, 0x03});
    trace::ReadResult result = trace::parse_trace(bytes.data(), bytes.size(), "minor.trace");
    REQUIRE(result.trace);
    CHECK(result.trace->format_minor == 9);
  }
  SECTION("through read_trace: a missing file and a directory") {
    TempDir dir;
    trace::ReadResult missing = trace::read_trace(dir.file("nope.trace"));
    CHECK_FALSE(missing.trace);
    CHECK_THAT(missing.error, Catch::Contains("cannot open") && Catch::Contains("No such file"));
    trace::ReadResult folder = trace::read_trace(dir.path());
    CHECK_FALSE(folder.trace);
    CHECK_THAT(folder.error, Catch::Contains("is not a regular file"));
  }
  SECTION("through read_trace: a newer format on disk") {
    TempDir dir;
    write_bytes(dir.file("new.trace"), header(7, 0));
    trace::ReadResult newer = trace::read_trace(dir.file("new.trace"));
    CHECK_FALSE(newer.trace);
    CHECK_THAT(newer.error, Catch::Contains("newer than this oomtrace reads"));
  }
}

TEST_CASE("format 1.1 records: framework errors, attachments, pool figures", "[trace]") {
  TempDir dir;
  std::string path = dir.file("t.trace");
  {
    trace::TraceWriter writer;
    REQUIRE(writer.create(path));
    writer.write_framework_error({123, 7, "pytorch", "CUDA out of memory. Tried to allocate 2.00 GiB."});
    writer.write_attachment({456, "torch_snapshot", "/tmp/x.pickle"});
    trace::FailureContext failure;
    failure.event.type = EventType::AllocFailed;
    failure.event.api = Api::cudaMallocAsync;
    failure.event.size = 64 * MiB;
    failure.pool_known = true;
    failure.pool_reserved_bytes = 1 * GiB;
    failure.pool_used_bytes = 512 * MiB;
    writer.write_failure(failure);
    writer.finish({1, 999, "exit"});
  }
  trace::ReadResult result = trace::read_trace(path);
  REQUIRE(result.trace);
  const trace::Trace& t = *result.trace;
  REQUIRE(t.framework_errors.size() == 1);
  CHECK(t.framework_errors[0].framework == "pytorch");
  CHECK(t.framework_errors[0].thread == 7);
  CHECK(t.framework_errors[0].message == "CUDA out of memory. Tried to allocate 2.00 GiB.");
  REQUIRE(t.attachments.size() == 1);
  CHECK(t.attachments[0].kind == "torch_snapshot");
  CHECK(t.attachments[0].path == "/tmp/x.pickle");
  REQUIRE(t.failures.size() == 1);
  CHECK(t.failures[0].context.pool_known);
  CHECK(t.failures[0].context.pool_reserved_bytes == 1 * GiB);
  CHECK(t.failures[0].context.pool_used_bytes == 512 * MiB);
}
