#include "report/render/export/perfetto_export.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "allocator/api.h"
#include "allocator/process_memory.h"

namespace oomtrace::report {
namespace {

// Framework messages can be pages long; the instant needs the first lines.
constexpr size_t kMaxMessageChars = 2000;

struct Sample {
  uint64_t time_ns = 0;
  uint64_t value = 0;
};

// One counter, downsampled: per span of bucket_ns it keeps the lowest,
// highest and last value, and drops points that repeat the value before.
class CounterTrack {
 public:
  explicit CounterTrack(uint64_t bucket_ns) : bucket_ns_(bucket_ns) {}

  void add(uint64_t time_ns, uint64_t value) {
    // Threads stamp their events independently; a slightly earlier time
    // stays in the current span rather than reopening a finished one.
    uint64_t bucket = std::max(time_ns / bucket_ns_, bucket_);
    if (pending_ && bucket != bucket_) flush();
    bucket_ = bucket;
    Sample sample{std::max(time_ns, last_time_ns_), value};
    if (!pending_) {
      lowest_ = highest_ = last_ = sample;
      pending_ = true;
      return;
    }
    if (value < lowest_.value) lowest_ = sample;
    if (value > highest_.value) highest_ = sample;
    last_ = sample;
  }

  const std::vector<Sample>& finish() {
    if (pending_) flush();
    return points_;
  }

  bool empty() const { return points_.empty() && !pending_; }

 private:
  void flush() {
    Sample chosen[3] = {lowest_, highest_, last_};
    std::sort(std::begin(chosen), std::end(chosen),
              [](const Sample& a, const Sample& b) { return a.time_ns < b.time_ns; });
    for (const Sample& sample : chosen) {
      if (!points_.empty() && points_.back().value == sample.value) continue;
      points_.push_back(sample);
      last_time_ns_ = sample.time_ns;
    }
    pending_ = false;
  }

  uint64_t bucket_ns_;
  uint64_t bucket_ = 0;
  uint64_t last_time_ns_ = 0;
  bool pending_ = false;
  Sample lowest_, highest_, last_;
  std::vector<Sample> points_;
};

struct DeviceTracks {
  CounterTrack reserved;
  CounterTrack allocated;
  bool has_blocks = false;
};

// Appends JSON text; numbers through to_chars, strings escaped per RFC 8259.
class JsonText {
 public:
  std::string& text() { return out_; }

  JsonText& raw(std::string_view text) {
    out_.append(text);
    return *this;
  }

  JsonText& number(uint64_t value) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, end);
    return *this;
  }

  JsonText& signed_number(int64_t value) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, end);
    return *this;
  }

  // Trace-event timestamps are microseconds; nanoseconds keep three decimals.
  JsonText& microseconds(uint64_t time_ns) {
    number(time_ns / 1000);
    char fraction[5] = {'.', static_cast<char>('0' + time_ns / 100 % 10), static_cast<char>('0' + time_ns / 10 % 10),
                        static_cast<char>('0' + time_ns % 10), 0};
    out_.append(fraction);
    return *this;
  }

  JsonText& string(std::string_view text) {
    out_.push_back('"');
    for (unsigned char c : text) {
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        out_.append("\\u00");
        out_.push_back(kHex[c >> 4]);
        out_.push_back(kHex[c & 15]);
      } else {
        out_.push_back(static_cast<char>(c));
      }
    }
    out_.push_back('"');
    return *this;
  }

 private:
  std::string out_;
};

// Invalid UTF-8 would make the whole file unreadable to a JSON parser;
// bytes outside ASCII are replaced (names and messages are ASCII in practice).
std::string ascii_only(std::string_view text, size_t max_chars) {
  std::string out;
  for (unsigned char c : text.substr(0, max_chars)) out.push_back(c < 0x80 ? static_cast<char>(c) : '?');
  if (text.size() > max_chars) out += "...";
  return out;
}

class PerfettoWriter {
 public:
  PerfettoWriter(const trace::Trace& trace, size_t buckets) : trace_(trace) {
    pid_ = trace.process ? trace.process->pid : 0;
    uint64_t end_ns = 0;
    for (const Event& event : trace.events) end_ns = std::max(end_ns, event.time_ns);
    bucket_ns_ = std::max<uint64_t>(1, end_ns / std::max<size_t>(buckets, 1) + 1);
  }

  std::string write() {
    replay();
    json_.raw("{\"traceEvents\":[\n");
    metadata();
    counters();
    failure_instants();
    framework_instants();
    json_.raw("\n],\"displayTimeUnit\":\"ms\"}\n");
    return std::move(json_.text());
  }

 private:
  void replay() {
    ProcessMemory memory;
    for (size_t i = 0; i < trace_.events.size(); ++i) {
      const Event& event = trace_.events[i];
      if (event.type == EventType::AllocFailed) {
        failures_.push_back(i);
        continue;
      }
      // Frees and mappings are recorded without a device: a free's segment
      // says which before it goes, a mapping's after it is made.
      int device = event.device != kHostDevice ? event.device : memory.device_containing(event.address);
      memory.apply(event);
      if (device == kHostDevice) device = memory.device_containing(event.address);
      if (device != kHostDevice) {
        sample(memory, device, event.time_ns);
      } else if (api_memory_kind(event.api) == MemoryKind::PhysicalHandle) {
        // A released handle names no address on any device.
        for (int known : memory.devices()) sample(memory, known, event.time_ns);
      }
    }
  }

  void sample(const ProcessMemory& memory, int device, uint64_t time_ns) {
    BlockFigures blocks = memory.block_figures(device);
    DeviceTracks& tracks = tracks_for(device);
    tracks.reserved.add(time_ns, memory.device(device).reserved_bytes);
    tracks.allocated.add(time_ns, blocks.allocated_bytes);
    tracks.has_blocks = tracks.has_blocks || blocks.sub_allocated_segments > 0;
  }

  DeviceTracks& tracks_for(int device) {
    auto found = tracks_.find(device);
    if (found == tracks_.end()) {
      found = tracks_.emplace(device, DeviceTracks{CounterTrack(bucket_ns_), CounterTrack(bucket_ns_), false}).first;
    }
    return found->second;
  }

  void begin_event(std::string_view name, std::string_view phase, uint64_t tid) {
    json_.raw(first_ ? "" : ",\n");
    first_ = false;
    json_.raw("{\"name\":").string(name).raw(",\"ph\":").string(phase);
    json_.raw(",\"pid\":").number(pid_).raw(",\"tid\":").number(tid);
  }

  void metadata() {
    std::string process = "oomtrace";
    if (trace_.process) {
      std::string_view executable = trace_.process->executable;
      size_t slash = executable.rfind('/');
      if (slash != std::string_view::npos) executable.remove_prefix(slash + 1);
      if (!executable.empty()) process = ascii_only(executable, 200);
    }
    begin_event("process_name", "M", 0);
    json_.raw(",\"args\":{\"name\":").string(process + " (pid " + std::to_string(pid_) + ")").raw("}}");
    std::set<uint32_t> threads;
    for (size_t index : failures_) threads.insert(trace_.events[index].thread);
    for (const trace::FrameworkError& error : trace_.framework_errors) threads.insert(error.thread);
    for (uint32_t thread : threads) {
      begin_event("thread_name", "M", thread);
      json_.raw(",\"args\":{\"name\":").string("thread " + std::to_string(thread)).raw("}}");
    }
  }

  void counters() {
    for (auto& [device, tracks] : tracks_) {
      std::string gpu = "GPU " + std::to_string(device);
      counter(gpu + " reserved", tracks.reserved.finish());
      if (tracks.has_blocks) counter(gpu + " allocated", tracks.allocated.finish());
    }
  }

  void counter(const std::string& name, const std::vector<Sample>& points) {
    for (const Sample& point : points) {
      begin_event(name, "C", 0);
      json_.raw(",\"ts\":").microseconds(point.time_ns).raw(",\"args\":{\"bytes\":").number(point.value).raw("}}");
    }
  }

  void failure_instants() {
    size_t shown = std::min(failures_.size(), kMaxFailureInstants);
    for (size_t i = 0; i < shown; ++i) {
      const Event& event = trace_.events[failures_[i]];
      std::string api(api_name(event.api));
      begin_event(api + " out of memory", "i", event.thread);
      json_.raw(",\"s\":\"p\",\"ts\":").microseconds(event.time_ns);
      json_.raw(",\"args\":{\"api\":").string(api).raw(",\"size\":").number(event.size);
      json_.raw(",\"device\":").signed_number(event.device).raw(",\"result\":").signed_number(event.result);
      json_.raw("}}");
    }
    if (failures_.size() > shown) {
      const Event& last = trace_.events[failures_.back()];
      begin_event("more failed allocations not shown", "i", last.thread);
      json_.raw(",\"s\":\"p\",\"ts\":").microseconds(last.time_ns);
      json_.raw(",\"args\":{\"count\":").number(failures_.size() - shown).raw("}}");
    }
  }

  void framework_instants() {
    for (const trace::FrameworkError& error : trace_.framework_errors) {
      begin_event(ascii_only(error.framework, 40) + " out-of-memory error", "i", error.thread);
      json_.raw(",\"s\":\"t\",\"ts\":").microseconds(error.time_ns);
      json_.raw(",\"args\":{\"message\":").string(ascii_only(error.message, kMaxMessageChars)).raw("}}");
    }
  }

  const trace::Trace& trace_;
  uint64_t pid_ = 0;
  uint64_t bucket_ns_ = 1;
  std::map<int, DeviceTracks> tracks_;
  std::vector<size_t> failures_;  // indices into trace_.events
  JsonText json_;
  bool first_ = true;
};

}  // namespace

std::string export_perfetto(const trace::Trace& trace, size_t counter_buckets) {
  return PerfettoWriter(trace, counter_buckets).write();
}

}  // namespace oomtrace::report
