#include "trace_builder.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace oomtrace::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "oomtrace-unit-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  REQUIRE(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

TraceBuilder& TraceBuilder::process(uint32_t pid, const std::string& host) {
  trace::ProcessInfo info;
  info.pid = pid;
  info.ppid = 1;
  info.host = host;
  info.executable = "/usr/bin/python3";
  info.argv = {"python3", "train.py", "--batch", "64"};
  info.start_unix_ns = 1700000000000000000ull;
  return process(info);
}

TraceBuilder& TraceBuilder::process(const trace::ProcessInfo& info) {
  records_.push_back([info](trace::TraceWriter& out) { out.write_process(info); });
  return *this;
}

TraceBuilder& TraceBuilder::device(int index, uint64_t total_bytes, const std::string& name) {
  trace::DeviceInfo info{index, name, total_bytes, "0000:00:0" + std::to_string(index) + ".0"};
  records_.push_back([info](trace::TraceWriter& out) { out.write_device(info); });
  return *this;
}

TraceBuilder& TraceBuilder::setting(const std::string& key, const std::string& value) {
  trace::Setting entry{key, value};
  records_.push_back([entry](trace::TraceWriter& out) { out.write_setting(entry); });
  return *this;
}

TraceBuilder& TraceBuilder::note(const std::string& text) {
  records_.push_back([text](trace::TraceWriter& out) { out.write_note(text); });
  return *this;
}

TraceBuilder& TraceBuilder::attach(const trace::AttachInfo& attach) {
  records_.push_back([attach](trace::TraceWriter& out) { out.write_attach(attach); });
  return *this;
}

TraceBuilder& TraceBuilder::frame(uint32_t id, uint64_t address, const std::string& module,
                                  const std::string& symbol, uint64_t offset) {
  trace::FrameInfo info{id, address, module, symbol, offset};
  records_.push_back([info](trace::TraceWriter& out) { out.write_frame(info); });
  return *this;
}

TraceBuilder& TraceBuilder::stack(uint32_t id, std::vector<uint32_t> frames) {
  trace::StackInfo info{id, std::move(frames)};
  records_.push_back([info](trace::TraceWriter& out) { out.write_stack(info); });
  return *this;
}

TraceBuilder& TraceBuilder::alloc(int device, uint64_t address, uint64_t size, Api api, uint32_t stack_id) {
  Event e;
  e.type = EventType::Alloc;
  e.api = api;
  e.device = static_cast<int16_t>(device);
  e.address = address;
  e.size = size;
  e.thread = 4242;
  e.stack_id = stack_id;
  return event(e);
}

TraceBuilder& TraceBuilder::free(int device, uint64_t address, Api api) {
  Event e;
  e.type = EventType::Free;
  e.api = api;
  e.device = static_cast<int16_t>(device);
  e.address = address;
  e.thread = 4242;
  return event(e);
}

TraceBuilder& TraceBuilder::event(Event e) {
  if (e.time_ns == 0) e.time_ns = next_time();
  records_.push_back([e](trace::TraceWriter& out) { out.write_event(e); });
  return *this;
}

TraceBuilder& TraceBuilder::fail(const FailureSpec& spec) {
  trace::FailureContext context;
  context.event.type = EventType::AllocFailed;
  context.event.api = spec.api;
  context.event.device = static_cast<int16_t>(spec.device);
  context.event.result = 2;  // cudaErrorMemoryAllocation
  context.event.size = spec.request;
  context.event.time_ns = next_time();
  context.event.thread = 4242;
  context.event.stack_id = spec.stack_id;
  context.device_info_known = spec.device_info_known;
  context.device_total_bytes = spec.device_info_known ? spec.total : 0;
  context.device_free_bytes = spec.device_info_known ? spec.free : 0;
  context.process_reserved_bytes = spec.reserved;
  context.process_segments = spec.segments;
  context.nvml_known = spec.nvml_known;
  context.processes = spec.processes;
  records_.push_back([context](trace::TraceWriter& out) { out.write_failure(context); });
  return *this;
}

TraceBuilder& TraceBuilder::finish(const std::string& exit_reason) {
  finished_ = true;
  uint64_t end = time_ns_ + 1;
  records_.push_back([exit_reason, end](trace::TraceWriter& out) {
    out.finish(trace::Trailer{out.events_written(), end, exit_reason});
  });
  return *this;
}

void TraceBuilder::write(const std::string& path) const {
  trace::TraceWriter writer;
  REQUIRE(writer.create(path));
  record_ends_.clear();
  for (const auto& record : records_) {
    record(writer);
    REQUIRE(writer.healthy());
    record_ends_.push_back(writer.bytes_written());
  }
  // As SIGKILL would: the preallocated zeros stay, the trailer never comes.
  if (!finished_) writer.abandon();
}

trace::Trace TraceBuilder::build(const std::string& path) const {
  write(path);
  trace::ReadResult result = trace::read_trace(path);
  INFO(result.error);
  REQUIRE(result.trace.has_value());
  return std::move(*result.trace);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace oomtrace::test
