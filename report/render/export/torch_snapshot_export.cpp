#include "report/render/export/torch_snapshot_export.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "allocator/api.h"
#include "report/render/export/pickle_writer.h"
#include "report/symbols/frame_symbolizer.h"

namespace oomtrace::report {
namespace {

// PyTorch calls a segment "large" above 1 MiB (torch/cuda/memory.py).
constexpr uint64_t kLargeSegmentBytes = uint64_t{1} << 20;

struct Block {
  uint64_t size = 0;
  uint32_t stack = 0;
};

struct Segment {
  size_t origin = 0;  // index of the event that created it: names it across replays
  int device = 0;
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  uint32_t stack = 0;
  bool sub_allocated = false;     // a pool-API block was reported inside it
  std::map<uint64_t, Block> blocks;  // live blocks by address, never overlapping

  bool contains(uint64_t start, uint64_t bytes) const {
    return start >= address && start - address < size && bytes <= size - (start - address);
  }
};

enum class Action { Alloc, FreeRequested, FreeCompleted, SegmentAlloc, SegmentFree, Oom };

const char* action_name(Action action) {
  switch (action) {
    case Action::Alloc: return "alloc";
    case Action::FreeRequested: return "free_requested";
    case Action::FreeCompleted: return "free_completed";
    case Action::SegmentAlloc: return "segment_alloc";
    case Action::SegmentFree: return "segment_free";
    case Action::Oom: return "oom";
  }
  return "?";
}

struct Entry {
  Action action = Action::Alloc;
  int device = 0;
  uint64_t address = 0;
  uint64_t size = 0;
  uint64_t stream = 0;
  uint64_t time_ns = 0;
  uint32_t stack = 0;
  uint64_t device_free = 0;  // oom only
};

using EntrySink = std::function<void(const Entry&)>;

// Replays the trace's device memory as segments and blocks, telling the
// sink each step in PyTorch's vocabulary. `blocks_later` says which
// segments (by origin) will receive pool-API blocks: the others are shown
// as one block of their full size from the moment they appear.
class SegmentReplay {
 public:
  SegmentReplay(const trace::Trace& trace, const std::vector<bool>* blocks_later, EntrySink sink)
      : trace_(trace), blocks_later_(blocks_later), sink_(std::move(sink)) {
    for (const trace::RecordedFailure& failure : trace.failures) failures_[failure.event_index] = &failure.context;
    origins_with_blocks_.resize(trace.events.size());
  }

  void run() {
    for (size_t i = 0; i < trace_.events.size(); ++i) apply(i, trace_.events[i]);
  }

  const std::map<uint64_t, Segment>& segments() const { return segments_; }
  // Origins of every segment that received a block, gone ones included.
  const std::vector<bool>& origins_with_blocks() const { return origins_with_blocks_; }

 private:
  void apply(size_t index, const Event& event) {
    MemoryKind kind = api_memory_kind(event.api);
    if (event.type == EventType::AllocFailed) return on_failure(index, event);
    bool alloc = event.type == EventType::Alloc;
    switch (kind) {
      case MemoryKind::Device:  // frees name no device (the recorder's): the address says which
        return alloc ? add_segment(index, event, event.device) : remove_segment(event);
      case MemoryKind::PhysicalHandle:
        if (alloc) handle_devices_[event.address] = event.device;
        return;
      case MemoryKind::Mapping:
        return alloc ? add_segment(index, event, mapped_device(event)) : remove_segment(event);
      case MemoryKind::SubAllocation:
        return alloc ? add_block(event) : release_block(event);
      default:
        return;  // host-pinned and unified memory, virtual ranges: not device segments
    }
  }

  int mapped_device(const Event& event) const {
    auto handle = handle_devices_.find(event.handle);
    return handle != handle_devices_.end() ? handle->second : event.device;
  }

  bool opaque(const Segment& segment) const {
    return blocks_later_ == nullptr || !(*blocks_later_)[segment.origin];
  }

  void emit(Action action, int device, uint64_t address, uint64_t size, const Event& event, uint32_t stack) {
    if (!sink_) return;
    sink_(Entry{action, device, address, size, event.stream, event.time_ns, stack, 0});
  }

  void add_segment(size_t index, const Event& event, int device) {
    if (device == kHostDevice || event.size == 0) return;
    if (segments_.count(event.address) != 0) remove_segment(event);  // its free was never seen
    Segment segment{index, device, event.address, event.size, event.stream, event.stack_id, false, {}};
    emit(Action::SegmentAlloc, device, event.address, event.size, event, event.stack_id);
    if (opaque(segment)) emit(Action::Alloc, device, event.address, event.size, event, event.stack_id);
    segments_.emplace(event.address, std::move(segment));
  }

  void remove_segment(const Event& event) {
    auto found = segments_.find(event.address);
    if (found == segments_.end()) return;  // allocated before tracing began
    Segment& segment = found->second;
    if (opaque(segment)) {
      emit_free(segment.device, segment.address, segment.size, event, segment.stack);
    }
    for (const auto& [address, block] : segment.blocks) {
      emit_free(segment.device, address, block.size, event, block.stack);
    }
    emit(Action::SegmentFree, segment.device, segment.address, segment.size, event, event.stack_id);
    segments_.erase(found);
  }

  void emit_free(int device, uint64_t address, uint64_t size, const Event& event, uint32_t stack) {
    emit(Action::FreeRequested, device, address, size, event, stack);
    emit(Action::FreeCompleted, device, address, size, event, stack);
  }

  Segment* segment_containing(uint64_t address, uint64_t size) {
    auto after = segments_.upper_bound(address);
    if (after == segments_.begin()) return nullptr;
    Segment& segment = std::prev(after)->second;
    return segment.contains(address, size) ? &segment : nullptr;
  }

  void add_block(const Event& event) {
    Segment* segment = segment_containing(event.address, std::max<uint64_t>(event.size, 1));
    if (segment == nullptr || event.size == 0) return;  // outside every segment: not shown
    segment->sub_allocated = true;
    origins_with_blocks_[segment->origin] = true;
    free_overlapping(*segment, event);
    segment->blocks[event.address] = Block{event.size, event.stack_id};
    emit(Action::Alloc, segment->device, event.address, event.size, event, event.stack_id);
  }

  // A block reported over live ones: they were freed without a report, and
  // the newer report wins (as the block model decides).
  void free_overlapping(Segment& segment, const Event& event) {
    uint64_t end = event.address + event.size;
    auto block = segment.blocks.lower_bound(event.address);
    if (block != segment.blocks.begin()) {
      auto before = std::prev(block);
      if (before->first + before->second.size > event.address) block = before;
    }
    while (block != segment.blocks.end() && block->first < end) {
      emit_free(segment.device, block->first, block->second.size, event, block->second.stack);
      block = segment.blocks.erase(block);
    }
  }

  void release_block(const Event& event) {
    Segment* segment = segment_containing(event.address, 1);
    if (segment == nullptr) return;
    auto block = segment->blocks.find(event.address);
    if (block == segment->blocks.end()) return;  // never reported
    emit_free(segment->device, block->first, block->second.size, event, block->second.stack);
    segment->blocks.erase(block);
  }

  void on_failure(size_t index, const Event& event) {
    if (event.device == kHostDevice || !sink_) return;
    Entry entry{Action::Oom, event.device, 0, event.size, event.stream, event.time_ns, event.stack_id, 0};
    auto failure = failures_.find(index);
    if (failure != failures_.end() && failure->second->device_info_known) {
      entry.device_free = failure->second->device_free_bytes;
    }
    sink_(entry);
  }

  const trace::Trace& trace_;
  const std::vector<bool>* blocks_later_;
  EntrySink sink_;
  std::unordered_map<size_t, const trace::FailureContext*> failures_;
  std::unordered_map<uint64_t, int> handle_devices_;  // cuMemCreate handle -> device
  std::map<uint64_t, Segment> segments_;             // by address
  std::vector<bool> origins_with_blocks_;
};

// A native frame as PyTorch frames: with a symbolizer and debug
// information, the function, source file and line (inlined calls first, as
// PyTorch lists them, innermost first); otherwise the module with the
// exported symbol or the address, and line 0.
struct PlainFrame {
  std::string filename;
  int64_t line = 0;
  std::string name;
};

const trace::ModuleInfo* module_of(const trace::Trace& trace, uint64_t return_address) {
  for (const trace::ModuleInfo& module : trace.modules) {
    if (return_address - 1 >= module.start && return_address - 1 < module.end) return &module;
  }
  return nullptr;
}

std::string hex_address(uint64_t address) {
  char text[32];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
  return text;
}

std::vector<PlainFrame> plain_frames(const trace::Trace& trace, const trace::FrameInfo& frame,
                                     FrameSymbolizer* symbolizer) {
  const trace::ModuleInfo* module = symbolizer && frame.address > 0 ? module_of(trace, frame.address) : nullptr;
  std::vector<PlainFrame> frames;
  if (module) {
    for (const SourceFrame& source : symbolizer->symbolize(*module, frame.address)) {
      frames.push_back({source.file.empty() ? module->path : source.file, source.line,
                        source.function.empty() ? hex_address(frame.address) : source.function});
    }
  }
  if (frames.empty()) {
    frames.push_back({frame.module.empty() ? "??" : frame.module, 0,
                      frame.symbol.empty() ? hex_address(frame.address) : frame.symbol});
  }
  return frames;
}

// Stacks as PyTorch frame lists, each frame and each stack written once and
// referred to through the memo afterwards.
class FrameWriter {
 public:
  FrameWriter(PickleWriter& out, const trace::Trace& trace, FrameSymbolizer* symbolizer)
      : out_(out), trace_(trace), symbolizer_(symbolizer) {}

  void stack(uint32_t stack_id) {
    auto known = stacks_.find(stack_id);
    if (known != stacks_.end()) return out_.recall(known->second);
    out_.begin_list();
    auto stack = trace_.stacks.find(stack_id);
    if (stack_id != 0 && stack != trace_.stacks.end()) {
      for (uint32_t frame_id : stack->second.frames) frame(frame_id);
    }
    out_.end_list();
    stacks_.emplace(stack_id, out_.remember());
  }

 private:
  void frame(uint32_t frame_id) {
    auto known = frames_.find(frame_id);
    if (known != frames_.end()) {
      for (uint32_t memo_index : known->second) out_.recall(memo_index);
      return;
    }
    auto info = trace_.frames.find(frame_id);
    std::vector<PlainFrame> plain =
        info == trace_.frames.end() ? std::vector<PlainFrame>{{"??", 0, "??"}} : plain_frames(trace_, info->second, symbolizer_);
    std::vector<uint32_t>& memo = frames_[frame_id];
    for (const PlainFrame& entry : plain) {
      out_.begin_dict();
      out_.repeated_text("filename");
      out_.repeated_text(entry.filename);
      out_.repeated_text("line");
      out_.integer(entry.line);
      out_.repeated_text("name");
      out_.text(entry.name);
      out_.end_dict();
      memo.push_back(out_.remember());
    }
  }

  PickleWriter& out_;
  const trace::Trace& trace_;
  FrameSymbolizer* symbolizer_;
  std::unordered_map<uint32_t, uint32_t> stacks_;  // stack id -> memo index
  std::unordered_map<uint32_t, std::vector<uint32_t>> frames_;  // frame id -> its dicts' memo indices
};

class SnapshotWriter {
 public:
  SnapshotWriter(const trace::Trace& trace, FrameSymbolizer* symbolizer)
      : trace_(trace), frames_(out_, trace, symbolizer) {
    if (trace.process) time_base_ns_ = trace.process->start_unix_ns;
  }

  std::string write() {
    SegmentReplay end_state(trace_, nullptr, {});
    end_state.run();
    out_.begin_dict();
    out_.repeated_text("segments");
    segments(end_state.segments());
    out_.repeated_text("device_traces");
    device_traces(end_state.origins_with_blocks());
    allocator_settings();
    out_.end_dict();
    return out_.finish();
  }

 private:
  void segments(const std::map<uint64_t, Segment>& live) {
    std::vector<const Segment*> ordered;
    for (const auto& [address, segment] : live) ordered.push_back(&segment);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const Segment* a, const Segment* b) { return a->device < b->device; });
    out_.begin_list();
    for (const Segment* segment : ordered) this->segment(*segment);
    out_.end_list();
  }

  void segment(const Segment& segment) {
    uint64_t allocated = segment.sub_allocated ? 0 : segment.size;
    for (const auto& [address, block] : segment.blocks) allocated += block.size;
    out_.begin_dict();
    field_int("device", segment.device);
    field_uint("address", segment.address);
    field_uint("total_size", segment.size);
    field_uint("allocated_size", allocated);
    field_uint("active_size", allocated);
    field_uint("requested_size", allocated);  // the pool API reports no rounding
    field_uint("stream", segment.stream);
    out_.repeated_text("segment_type");
    out_.repeated_text(segment.size > kLargeSegmentBytes ? "large" : "small");
    out_.repeated_text("segment_pool_id");
    out_.begin_tuple();
    out_.integer(0);
    out_.integer(0);
    out_.end_tuple();
    out_.repeated_text("is_expandable");
    out_.boolean(false);
    out_.repeated_text("frames");
    frames_.stack(segment.stack);
    out_.repeated_text("blocks");
    blocks(segment);
    out_.end_dict();
  }

  // Blocks tile the segment: the reported ones, and the free space between
  // them as inactive blocks (PyTorch's viewers check that they add up).
  void blocks(const Segment& segment) {
    out_.begin_list();
    if (!segment.sub_allocated) {
      block(segment.address, segment.size, true, segment.stack);
    } else {
      uint64_t cursor = segment.address;
      for (const auto& [address, live] : segment.blocks) {
        if (address > cursor) block(cursor, address - cursor, false, 0);
        block(address, live.size, true, live.stack);
        cursor = address + live.size;
      }
      uint64_t end = segment.address + segment.size;
      if (cursor < end) block(cursor, end - cursor, false, 0);
    }
    out_.end_list();
  }

  void block(uint64_t address, uint64_t size, bool allocated, uint32_t stack) {
    out_.begin_dict();
    field_uint("address", address);
    field_uint("size", size);
    field_uint("requested_size", allocated ? size : 0);
    out_.repeated_text("state");
    out_.repeated_text(allocated ? "active_allocated" : "inactive");
    out_.repeated_text("frames");
    frames_.stack(stack);
    out_.end_dict();
  }

  // One list per device; each device is one more replay of the trace, so
  // nothing but the pickle grows with the number of events.
  void device_traces(const std::vector<bool>& origins_with_blocks) {
    int devices = device_count();
    out_.begin_list();
    for (int device = 0; device < devices; ++device) {
      out_.begin_list();
      SegmentReplay replay(trace_, &origins_with_blocks, [&](const Entry& entry) {
        if (entry.device == device) this->entry(entry);
      });
      replay.run();
      out_.end_list();
    }
    out_.end_list();
  }

  int device_count() const {
    int highest = trace_.devices.empty() ? -1 : trace_.devices.rbegin()->first;
    for (const Event& event : trace_.events) highest = std::max<int>(highest, event.device);
    return highest + 1;
  }

  void entry(const Entry& entry) {
    out_.begin_dict();
    out_.repeated_text("action");
    out_.repeated_text(action_name(entry.action));
    if (entry.action != Action::Oom) field_uint("addr", entry.address);
    field_uint("size", entry.size);
    field_uint("stream", entry.stream);
    field_uint("time_us", (time_base_ns_ + entry.time_ns) / 1000);
    if (entry.action == Action::Oom) field_uint("device_free", entry.device_free);
    out_.repeated_text("frames");
    frames_.stack(entry.stack);
    out_.end_dict();
  }

  // PYTORCH_CUDA_ALLOC_CONF as the process had it, under the key PyTorch
  // itself uses in allocator_settings.
  void allocator_settings() {
    for (const char* key : {"PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF"}) {
      for (const trace::Setting& setting : trace_.settings) {
        if (setting.key != key) continue;
        out_.repeated_text("allocator_settings");
        out_.begin_dict();
        out_.repeated_text("PYTORCH_CUDA_ALLOC_CONF");
        out_.text(setting.value);
        out_.end_dict();
        return;
      }
    }
  }

  void field_int(const char* key, int64_t value) {
    out_.repeated_text(key);
    out_.integer(value);
  }

  void field_uint(const char* key, uint64_t value) {
    out_.repeated_text(key);
    out_.unsigned_integer(value);
  }

  const trace::Trace& trace_;
  PickleWriter out_;
  FrameWriter frames_;
  uint64_t time_base_ns_ = 0;
};

}  // namespace

std::string export_torch_snapshot(const trace::Trace& trace, FrameSymbolizer* symbolizer) {
  return SnapshotWriter(trace, symbolizer).write();
}

}  // namespace oomtrace::report
