// Reads a trace file back, complete or cut short by a crash. Never trusts
// the file: every length is bounds-checked, and a malformed file yields one
// clear error instead of a crash or a huge allocation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "trace/format.h"

namespace oomtrace::trace {

struct RecordedFailure {
  FailureContext context;
  size_t event_index = 0;  // position of the failed call in Trace::events
};

struct Trace {
  std::string path;
  uint16_t format_major = 0;
  uint16_t format_minor = 0;
  std::optional<ProcessInfo> process;
  std::map<int, DeviceInfo> devices;
  std::unordered_map<uint32_t, FrameInfo> frames;
  std::unordered_map<uint32_t, StackInfo> stacks;
  std::vector<ModuleInfo> modules;  // in the order first seen (1.4)
  std::vector<Event> events;  // failures included, in call order
  std::vector<RecordedFailure> failures;
  std::vector<Setting> settings;
  std::vector<std::string> notes;
  std::vector<FrameworkError> framework_errors;
  std::vector<Attachment> attachments;
  std::optional<AttachInfo> attach;  // present when `oomtrace attach` joined the process
  std::optional<Trailer> trailer;  // absent: the process was killed
  uint64_t data_bytes = 0;         // bytes of records read
};

struct ReadResult {
  std::optional<Trace> trace;
  std::string error;  // one line, naming the file and what is wrong
};

// Told now and then how far reading has come (bytes read, bytes in all),
// for a progress bar.
using ReadProgress = std::function<void(uint64_t done, uint64_t total)>;

ReadResult read_trace(const std::string& path, const ReadProgress& progress = {});
// The same on bytes already in memory (tests, fuzzing).
ReadResult parse_trace(const uint8_t* data, size_t size, const std::string& name, const ReadProgress& progress = {});

}  // namespace oomtrace::trace
