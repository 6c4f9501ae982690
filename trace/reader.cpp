#include "trace/reader.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/encoding.h"
#include "trace/event_codec.h"
#include "trace/record_framing.h"

namespace oomtrace::trace {
namespace {

// Vectors in a record are bounded by the record itself (each element takes
// at least one byte), so a hostile count cannot make us reserve gigabytes.
uint64_t bounded_count(Decoder& in, size_t payload_size) {
  uint64_t count = in.u64();
  return count > payload_size ? 0 : count;
}

// A field written as value + 1, 0 meaning unknown, that older writers did
// not append at all.
std::optional<uint32_t> optional_count(Decoder& in) {
  if (in.at_end()) return std::nullopt;
  uint64_t stored = in.u64();
  if (stored == 0 || stored - 1 > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(stored - 1);
}

bool valid_event(const Event& event) {
  return event.type >= EventType::Alloc && event.type <= EventType::AllocFailed &&
         event.api > Api::Unknown;
}

// An API this build does not know was added by a newer minor version: the
// event is skipped (and counted in a note), the rest of the trace still read.
bool known_api(const Event& event) { return event.api < Api::Count; }

class RecordParser {
 public:
  explicit RecordParser(Trace& trace) : trace_(trace) {}

  // Returns an error text, empty when the record is fine.
  std::string parse(RecordType type, const uint8_t* data, size_t size) {
    Decoder in(data, size);
    switch (type) {
      case RecordType::Process: parse_process(in, size); break;
      case RecordType::Device: parse_device(in); break;
      case RecordType::Frame: parse_frame(in); break;
      case RecordType::Stack: parse_stack(in, size); break;
      case RecordType::Module: parse_module(in); break;
      case RecordType::Event: {
        Event event = decode_event(in);
        if (in.ok() && !valid_event(event)) return "an event of unknown type or API";
        if (!known_api(event)) {
          ++skipped_events_;
          break;
        }
        trace_.events.push_back(event);
        break;
      }
      case RecordType::Failure: {
        std::string error = parse_failure(in, size);
        if (!error.empty()) return error;
        break;
      }
      case RecordType::Setting: {
        Setting setting;
        setting.key = in.str();
        setting.value = in.str();
        trace_.settings.push_back(std::move(setting));
        break;
      }
      case RecordType::Note: trace_.notes.push_back(in.str()); break;
      case RecordType::FrameworkError: {
        FrameworkError error;
        error.time_ns = in.u64();
        error.thread = static_cast<uint32_t>(in.u64());
        error.framework = in.str();
        error.message = in.str();
        trace_.framework_errors.push_back(std::move(error));
        break;
      }
      case RecordType::Attachment: {
        Attachment attachment;
        attachment.time_ns = in.u64();
        attachment.kind = in.str();
        attachment.path = in.str();
        trace_.attachments.push_back(std::move(attachment));
        break;
      }
      case RecordType::Attach: parse_attach(in, size); break;
      case RecordType::Trailer: {
        Trailer trailer;
        trailer.events = in.u64();
        trailer.end_time_ns = in.u64();
        trailer.exit_reason = in.str();
        trace_.trailer = std::move(trailer);
        break;
      }
      default:
        return {};  // a record type from a newer minor version: skip it
    }
    return in.ok() ? std::string{} : "a record shorter than its fields";
  }

 private:
  void parse_process(Decoder& in, size_t size) {
    ProcessInfo process;
    process.pid = static_cast<uint32_t>(in.u64());
    process.ppid = static_cast<uint32_t>(in.u64());
    process.host = in.str();
    process.executable = in.str();
    process.start_unix_ns = in.u64();
    uint64_t argc = bounded_count(in, size);
    for (uint64_t i = 0; i < argc && in.ok(); ++i) process.argv.push_back(in.str());
    // Since 1.4; a 1.3 record ends before them.
    process.rank = optional_count(in);
    process.local_rank = optional_count(in);
    process.world_size = optional_count(in);
    trace_.process = std::move(process);
  }

  void parse_attach(Decoder& in, size_t size) {
    AttachInfo attach;
    attach.time_ns = in.u64();
    attach.unix_ns = in.u64();
    uint64_t devices = bounded_count(in, size);
    for (uint64_t i = 0; i < devices && in.ok(); ++i) {
      AttachBaseline device;
      device.device = static_cast<int32_t>(in.i64());
      device.memory_known = in.u64() != 0;
      device.total_bytes = in.u64();
      device.free_bytes = in.u64();
      device.process_known = in.u64() != 0;
      device.process_used_bytes = in.u64();
      attach.devices.push_back(device);
    }
    uint64_t paths = bounded_count(in, size);
    for (uint64_t i = 0; i < paths && in.ok(); ++i) {
      AttachPath path;
      path.name = in.str();
      path.covered = in.u64() != 0;
      path.detail = in.str();
      attach.paths.push_back(std::move(path));
    }
    attach.outer_pid = static_cast<uint32_t>(in.u64());
    trace_.attach = std::move(attach);
  }

  void parse_device(Decoder& in) {
    DeviceInfo device;
    device.index = static_cast<int32_t>(in.i64());
    device.name = in.str();
    device.total_bytes = in.u64();
    device.pci_bus_id = in.str();
    trace_.devices[device.index] = std::move(device);
  }

  void parse_frame(Decoder& in) {
    FrameInfo frame;
    frame.id = static_cast<uint32_t>(in.u64());
    frame.address = in.u64();
    frame.module = in.str();
    frame.symbol = in.str();
    frame.offset = in.u64();
    trace_.frames[frame.id] = std::move(frame);
  }

  void parse_module(Decoder& in) {
    ModuleInfo module;
    module.path = in.str();
    module.load_bias = in.u64();
    module.start = in.u64();
    module.end = in.u64();
    module.build_id = in.str();
    if (in.ok()) trace_.modules.push_back(std::move(module));
  }

  void parse_stack(Decoder& in, size_t size) {
    StackInfo stack;
    stack.id = static_cast<uint32_t>(in.u64());
    uint64_t depth = bounded_count(in, size);
    for (uint64_t i = 0; i < depth && in.ok(); ++i) {
      stack.frames.push_back(static_cast<uint32_t>(in.u64()));
    }
    trace_.stacks[stack.id] = std::move(stack);
  }

  std::string parse_failure(Decoder& in, size_t size) {
    RecordedFailure failure;
    FailureContext& context = failure.context;
    context.event = decode_event(in);
    if (in.ok() && (!valid_event(context.event) || !known_api(context.event) ||
                    context.event.type != EventType::AllocFailed)) {
      return "a failure record that is not a failed allocation";
    }
    context.device_info_known = in.u64() != 0;
    context.device_total_bytes = in.u64();
    context.device_free_bytes = in.u64();
    context.process_reserved_bytes = in.u64();
    context.process_segments = static_cast<uint32_t>(in.u64());
    context.nvml_known = in.u64() != 0;
    uint64_t count = bounded_count(in, size);
    for (uint64_t i = 0; i < count && in.ok(); ++i) {
      ProcessUsage usage;
      usage.pid = static_cast<uint32_t>(in.u64());
      usage.used_bytes = in.u64();
      context.processes.push_back(usage);
    }
    if (!in.at_end()) {  // 1.1
      context.pool_known = in.u64() != 0;
      context.pool_reserved_bytes = in.u64();
      context.pool_used_bytes = in.u64();
    }
    if (!in.ok()) return {};
    failure.event_index = trace_.events.size();
    trace_.events.push_back(context.event);
    trace_.failures.push_back(std::move(failure));
    return {};
  }

  Trace& trace_;
  uint64_t skipped_events_ = 0;

 public:
  uint64_t skipped_events() const { return skipped_events_; }
};

// Records that can hold an event (kMinEventBytes or more), so that the
// event vector is sized once: a long run's trace holds tens of millions,
// and growing by doubling cost the report most of its time and up to twice
// the memory. Never more than the file's events could fill.
size_t count_event_records(const uint8_t* data, size_t size) {
  size_t count = 0;
  for (size_t pos = kHeaderSize; pos < size;) {
    Framed framed = frame_at(data, size, pos);
    if (framed.status != Framed::Record) break;
    bool holds_event = framed.type == RecordType::Event || framed.type == RecordType::Failure;
    if (holds_event && framed.length >= kMinEventBytes) ++count;
    if (framed.type == RecordType::Trailer) break;
    pos = framed.body + framed.length;
  }
  return count;
}

std::string describe_errno(int error) { return std::strerror(error); }

}  // namespace

ReadResult parse_trace(const uint8_t* data, size_t size, const std::string& name, const ReadProgress& progress) {
  ReadResult result;
  if (size == 0) {
    result.error = name + " is empty: the traced process wrote nothing";
    return result;
  }
  if (size < kHeaderSize || std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    result.error = name + " is not an oomtrace trace";
    return result;
  }
  Trace trace;
  trace.path = name;
  trace.format_major = static_cast<uint16_t>(data[8] | (data[9] << 8));
  trace.format_minor = static_cast<uint16_t>(data[10] | (data[11] << 8));
  if (trace.format_major > kFormatMajor) {
    result.error = name + " has trace format " + std::to_string(trace.format_major) + "." +
                   std::to_string(trace.format_minor) + ", newer than this oomtrace reads (" +
                   std::to_string(kFormatMajor) + ".x): upgrade oomtrace";
    return result;
  }

  trace.events.reserve(count_event_records(data, size));
  RecordParser parser(trace);
  size_t pos = kHeaderSize;
  while (pos < size) {
    Framed framed = frame_at(data, size, pos);
    if (framed.status == Framed::End) break;
    if (framed.status == Framed::Oversized) {
      result.error = name + " is corrupt at byte " + std::to_string(pos) +
                     ": a record claims " + std::to_string(framed.length) + " bytes";
      return result;
    }
    std::string error = parser.parse(framed.type, data + framed.body, framed.length);
    if (!error.empty()) {
      result.error = name + " is corrupt at byte " + std::to_string(pos) + ": " + error;
      return result;
    }
    pos = framed.body + framed.length;
    if (framed.type == RecordType::Trailer) break;
    // Every 4 MiB: often enough for a bar, rarely enough to cost nothing.
    if (progress && (pos >> 22) != ((framed.body - 1) >> 22)) progress(pos, size);
  }
  trace.data_bytes = pos;
  if (parser.skipped_events() > 0) {
    trace.notes.push_back(std::to_string(parser.skipped_events()) +
                          " events of APIs unknown to this oomtrace were skipped (a newer version wrote them)");
  }
  result.trace = std::move(trace);
  return result;
}

ReadResult read_trace(const std::string& path, const ReadProgress& progress) {
  ReadResult result;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    result.error = "cannot open " + path + ": " + describe_errno(errno);
    return result;
  }
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    result.error = path + " is not a regular file";
    return result;
  }
  size_t size = static_cast<size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return parse_trace(nullptr, 0, path);
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) {
    result.error = "cannot read " + path + ": " + describe_errno(errno);
    return result;
  }
  result = parse_trace(static_cast<const uint8_t*>(data), size, path, progress);
  ::munmap(data, size);
  return result;
}

}  // namespace oomtrace::trace
