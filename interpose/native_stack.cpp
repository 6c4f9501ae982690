#include "interpose/native_stack.h"

#include <dlfcn.h>
#include <unwind.h>

#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

struct UnwindState {
  RawStack* stack;
  bool past_this_library;
};

_Unwind_Reason_Code collect_frame(struct _Unwind_Context* context, void* data) {
  auto* state = static_cast<UnwindState*>(data);
  uintptr_t ip = _Unwind_GetIP(context);
  if (ip == 0) return _URC_END_OF_STACK;
  if (!state->past_this_library) {
    if (is_inside_this_library(reinterpret_cast<void*>(ip))) return _URC_NO_REASON;
    state->past_this_library = true;
  }
  RawStack& stack = *state->stack;
  if (stack.depth >= kMaxStackDepth) return _URC_END_OF_STACK;
  stack.frames[stack.depth++] = ip;
  return _URC_NO_REASON;
}

uint64_t hash_frames(const RawStack& stack) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over the addresses
  for (int i = 0; i < stack.depth; ++i) {
    hash ^= stack.frames[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

bool same_frames(const std::vector<uintptr_t>& known, const RawStack& stack) {
  if (known.size() != static_cast<size_t>(stack.depth)) return false;
  for (int i = 0; i < stack.depth; ++i) {
    if (known[i] != stack.frames[i]) return false;
  }
  return true;
}

trace::FrameInfo describe_frame(uint32_t id, uintptr_t address) {
  trace::FrameInfo frame;
  frame.id = id;
  frame.address = address;
  Dl_info info{};
  // address - 1: a return address may already belong to the next function.
  if (dladdr(reinterpret_cast<void*>(address - 1), &info)) {
    if (info.dli_fname) frame.module = info.dli_fname;
    if (info.dli_sname && info.dli_saddr) {
      frame.symbol = info.dli_sname;
      frame.offset = address - reinterpret_cast<uintptr_t>(info.dli_saddr);
    } else {
      frame.offset = address - reinterpret_cast<uintptr_t>(info.dli_fbase);
    }
  }
  return frame;
}

}  // namespace

void capture_native_stack(RawStack& stack) {
  stack.depth = 0;
  UnwindState state{&stack, false};
  _Unwind_Backtrace(&collect_frame, &state);
}

uint32_t StackInterner::intern_frame(uintptr_t address, trace::TraceWriter& writer) {
  auto found = frame_ids_.find(address);
  if (found != frame_ids_.end()) return found->second;
  uint32_t id = static_cast<uint32_t>(frame_ids_.size() + 1);
  frame_ids_.emplace(address, id);
  writer.write_frame(describe_frame(id, address));
  return id;
}

uint32_t StackInterner::intern(const RawStack& stack, trace::TraceWriter& writer) {
  if (stack.depth == 0) return 0;
  uint64_t hash = hash_frames(stack);
  auto& candidates = stacks_by_hash_[hash];
  for (uint32_t id : candidates) {
    if (same_frames(stacks_[id - 1], stack)) return id;
  }
  trace::StackInfo info;
  info.id = static_cast<uint32_t>(stacks_.size() + 1);
  for (int i = 0; i < stack.depth; ++i) info.frames.push_back(intern_frame(stack.frames[i], writer));
  stacks_.emplace_back(stack.frames, stack.frames + stack.depth);
  candidates.push_back(info.id);
  writer.write_stack(info);
  return info.id;
}

void StackInterner::clear() {
  stacks_by_hash_.clear();
  stacks_.clear();
  frame_ids_.clear();
}

}  // namespace oomtrace::interpose
