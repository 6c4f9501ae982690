// An oomtrace trace as a recording: the blocks a program's allocator
// reported through the pool API (oomtrace_pool_alloc/free) are the
// requests, its cudaMalloc/cudaFree (or cuMemMap/cuMemUnmap) calls the
// device allocations. Pool calls carry no device: a block belongs to the
// device of the segment holding it.
#include <map>

#include "report/whatif/whatif_inputs.h"

namespace oomtrace::report {
namespace {

using caching::ReplayAction;

struct LiveSegment {
  uint64_t size = 0;
  int device = 0;
};

bool is_segment_api(Api api) {
  MemoryKind kind = api_memory_kind(api);
  return (kind == MemoryKind::Device && !api_is_stream_ordered(api)) || kind == MemoryKind::Mapping;
}

class TraceConverter {
 public:
  explicit TraceConverter(const trace::Trace& trace) : trace_(trace) {}

  // Every device's events, in order, each with its device.
  std::map<int, std::vector<caching::ReplayEvent>> convert() {
    for (size_t i = 0; i < trace_.events.size(); ++i) convert_event(i);
    return std::move(by_device_);
  }

 private:
  void convert_event(size_t index) {
    const Event& event = trace_.events[index];
    if (event.api == Api::oomtrace_pool_alloc || event.api == Api::oomtrace_pool_free) {
      convert_pool_call(event, index);
    } else if (is_segment_api(event.api) && event.device != kHostDevice) {
      convert_segment_call(event, index);
    }
  }

  void convert_pool_call(const Event& event, size_t index) {
    std::optional<int> device = device_holding(event.address);
    if (!device) return;  // outside every segment: the report counts it as unmatched
    bool alloc = event.api == Api::oomtrace_pool_alloc;
    if (alloc) {
      add(*device, {ReplayAction::Alloc, event.address, event.size, 0, index});
    } else {
      add(*device, {ReplayAction::FreeCompleted, event.address, 0, 0, index});
    }
  }

  void convert_segment_call(const Event& event, size_t index) {
    bool mapping = api_memory_kind(event.api) == MemoryKind::Mapping;
    if (event.type == EventType::Alloc) {
      segments_[event.address] = {event.size, event.device};
      add(event.device, {mapping ? ReplayAction::SegmentMap : ReplayAction::SegmentAlloc, event.address, event.size,
                         event.stream, index});
    } else if (event.type == EventType::Free) {
      auto it = segments_.find(event.address);
      if (it == segments_.end()) return;
      add(event.device, {mapping ? ReplayAction::SegmentUnmap : ReplayAction::SegmentFree, event.address,
                         it->second.size, event.stream, index});
      segments_.erase(it);
    } else if (event.type == EventType::AllocFailed && gave_up_after(index)) {
      add(event.device, {ReplayAction::Oom, 0, failed_request_size(event.size), event.stream, index});
    }
  }

  // A failed device allocation is the end of a request unless PyTorch's
  // fallback got the memory: after only frees (its cache going back) and
  // more failures, a device allocation of the same size succeeded. Of a
  // chain of failures only the last one counts.
  bool gave_up_after(size_t index) const {
    const Event& failed = trace_.events[index];
    for (size_t i = index + 1; i < trace_.events.size(); ++i) {
      const Event& later = trace_.events[i];
      if (!is_segment_api(later.api) || later.device != failed.device) continue;
      if (later.type == EventType::Free) continue;
      return later.size != failed.size;
    }
    return true;
  }

  // A failed cudaMalloc shows the segment size, not the request: a 2 MiB
  // segment was a small-pool request, replayed as the largest of those;
  // any other size asks for the same segment when replayed as it is.
  static uint64_t failed_request_size(uint64_t segment_size) {
    return segment_size == caching::kSmallBuffer ? caching::kSmallSize : segment_size;
  }

  std::optional<int> device_holding(uint64_t address) const {
    auto it = segments_.upper_bound(address);
    if (it == segments_.begin()) return std::nullopt;
    --it;
    if (address - it->first >= it->second.size) return std::nullopt;
    return it->second.device;
  }

  void add(int device, caching::ReplayEvent event) { by_device_[device].push_back(event); }

  const trace::Trace& trace_;
  std::map<uint64_t, LiveSegment> segments_;  // by address
  std::map<int, std::vector<caching::ReplayEvent>> by_device_;
};

bool has_requests(const std::vector<caching::ReplayEvent>& events) {
  for (const auto& event : events) {
    if (event.action == ReplayAction::Alloc) return true;
  }
  return false;
}

// PYTORCH_CUDA_ALLOC_CONF (or its newer name) as the traced process had it.
std::optional<std::string> recorded_conf(const trace::Trace& trace) {
  for (const char* key : {"PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF"}) {
    for (const trace::Setting& setting : trace.settings) {
      if (setting.key == key) return setting.value;
    }
  }
  return std::nullopt;
}

// total - free - what the process held, at the device's last failure.
std::optional<uint64_t> others_at_last_failure(const trace::Trace& trace, int device) {
  std::optional<uint64_t> others;
  for (const trace::RecordedFailure& failure : trace.failures) {
    const trace::FailureContext& context = failure.context;
    if (context.event.device != device || !context.device_info_known) continue;
    uint64_t held = context.device_free_bytes + context.process_reserved_bytes;
    others = context.device_total_bytes > held ? context.device_total_bytes - held : 0;
  }
  return others;
}

}  // namespace

WhatIfInputResult whatif_input_from_trace(const trace::Trace& trace, std::optional<int> device) {
  WhatIfInputResult result;
  std::map<int, std::vector<caching::ReplayEvent>> by_device = TraceConverter(trace).convert();
  std::optional<int> chosen = device;
  for (const auto& [index, events] : by_device) {
    if (!device && has_requests(events) && (!chosen || events.size() > by_device[*chosen].size())) chosen = index;
  }
  if (!chosen || !has_requests(by_device[*chosen])) {
    result.error = "the trace holds no blocks to replay" +
                   (device ? " on device " + std::to_string(*device) : std::string()) +
                   ": the program's allocator must report them (oomtrace_pool_alloc/oomtrace_pool_free), or give "
                   "a PyTorch memory snapshot instead";
    return result;
  }
  WhatIfInput input;
  input.kind = "oomtrace-trace";
  input.device = *chosen;
  input.recording.events = std::move(by_device[*chosen]);
  for (size_t i = 0; i < input.recording.events.size(); ++i) {
    if (input.recording.events[i].action == ReplayAction::Oom) input.ooms.push_back({i, std::nullopt});
  }
  std::optional<std::string> conf = recorded_conf(trace);
  caching::ConfigParse parsed = caching::parse_alloc_conf(conf.value_or(""));
  if (!parsed.config) {
    result.error = "the trace's " + parsed.error;
    return result;
  }
  input.recording.config = *parsed.config;
  input.settings_origin = conf ? "PYTORCH_CUDA_ALLOC_CONF in the trace" : "not set in the trace: PyTorch's defaults";
  auto info = trace.devices.find(*chosen);
  if (info != trace.devices.end() && info->second.total_bytes > 0) input.device_total_bytes = info->second.total_bytes;
  input.others_bytes = others_at_last_failure(trace, *chosen);
  result.input = std::move(input);
  return result;
}

}  // namespace oomtrace::report
