// Synthetic traces for tests: describe the calls, write them through the
// real TraceWriter, read them back through the real reader.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "trace/reader.h"
#include "trace/writer.h"

namespace oomtrace::test {

inline constexpr uint64_t KiB = 1024;
inline constexpr uint64_t MiB = 1024 * KiB;
inline constexpr uint64_t GiB = 1024 * MiB;

// A fresh folder under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct FailureSpec {
  int device = 0;
  uint64_t request = 0;
  Api api = Api::cudaMalloc;
  bool device_info_known = true;
  uint64_t total = 0;
  uint64_t free = 0;
  uint64_t reserved = 0;  // 0: the live process did not measure it
  uint32_t segments = 0;
  bool nvml_known = false;
  std::vector<trace::ProcessUsage> processes;
  uint32_t stack_id = 0;
};

class TraceBuilder {
 public:
  TraceBuilder& process(uint32_t pid, const std::string& host = "testhost");
  TraceBuilder& process(const trace::ProcessInfo& info);  // every field as given (a rank, ...)
  TraceBuilder& device(int index, uint64_t total_bytes, const std::string& name = "Fake GPU");
  TraceBuilder& setting(const std::string& key, const std::string& value);
  TraceBuilder& note(const std::string& text);
  TraceBuilder& attach(const trace::AttachInfo& attach);
  TraceBuilder& frame(uint32_t id, uint64_t address, const std::string& module, const std::string& symbol,
                      uint64_t offset);
  TraceBuilder& stack(uint32_t id, std::vector<uint32_t> frames);
  TraceBuilder& alloc(int device, uint64_t address, uint64_t size, Api api = Api::cudaMalloc,
                      uint32_t stack_id = 0);
  TraceBuilder& free(int device, uint64_t address, Api api = Api::cudaFree);
  TraceBuilder& event(Event event);
  TraceBuilder& fail(const FailureSpec& spec);
  TraceBuilder& finish(const std::string& exit_reason = "exit");

  // Writes the trace; without finish() the file is left as SIGKILL leaves
  // it: no trailer, zeros after the last record.
  void write(const std::string& path) const;
  // Writes then reads back; the test fails if the reader refuses it.
  trace::Trace build(const std::string& path) const;

  // Byte offset in the file at which each record ends, in record order
  // (the header ends at trace::kHeaderSize). Filled by write().
  const std::vector<uint64_t>& record_ends() const { return record_ends_; }

 private:
  uint64_t next_time() { return time_ns_ += 1000000; }

  std::vector<std::function<void(trace::TraceWriter&)>> records_;
  bool finished_ = false;
  uint64_t time_ns_ = 0;
  mutable std::vector<uint64_t> record_ends_;
};

std::vector<uint8_t> read_bytes(const std::string& path);

}  // namespace oomtrace::test
