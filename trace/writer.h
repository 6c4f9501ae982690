// Turns the trace's records into bytes on a crash-safe sink. Not
// thread-safe: the recorder in interpose/ holds its lock around each call.
#pragma once

#include <string>

#include "trace/format.h"
#include "trace/mapped_file_sink.h"

namespace oomtrace::trace {

class TraceWriter {
 public:
  // Creates the file and writes the header. False with errno set on failure.
  bool create(const std::string& path);
  bool is_open() const { return sink_.is_open(); }
  // False once a write failed (disk full): the file stays readable up to the
  // last whole record and the caller stops recording.
  bool healthy() const { return healthy_; }

  void write_process(const ProcessInfo& process);
  void write_device(const DeviceInfo& device);
  void write_frame(const FrameInfo& frame);
  void write_module(const ModuleInfo& module);
  void write_stack(const StackInfo& stack);
  void write_event(const Event& event);
  void write_failure(const FailureContext& failure);
  void write_setting(const Setting& setting);
  void write_note(const std::string& note);
  void write_framework_error(const FrameworkError& error);
  void write_attachment(const Attachment& attachment);
  void write_attach(const AttachInfo& attach);
  // Writes the trailer and closes: the trace is complete.
  void finish(const Trailer& trailer);
  // For a forked child: forgets the parent's file without touching it.
  void abandon() { sink_.abandon(); }
  // Back to the state of a new writer (after abandon), ready to create().
  void reset() {
    sink_.abandon();
    payload_.clear();
    healthy_ = true;
    events_ = 0;
  }

  uint64_t events_written() const { return events_; }
  uint64_t bytes_written() const { return sink_.size(); }
  // The trace's own bytes, for the library's model to catch up at a failure.
  size_t read_back(uint64_t offset, uint8_t* out, size_t length) const {
    return sink_.read_back(offset, out, length);
  }

 private:
  void emit(RecordType type);

  MappedFileSink sink_;
  std::string payload_;
  bool healthy_ = true;
  uint64_t events_ = 0;
};

}  // namespace oomtrace::trace
