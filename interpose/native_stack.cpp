#include "interpose/native_stack.h"

#include <dlfcn.h>
#include <pthread.h>
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

namespace {

struct StackBounds {
  uintptr_t low = 0;
  uintptr_t high = 0;
};

thread_local StackBounds tls_stack_bounds __attribute__((tls_model("initial-exec")));

StackBounds this_thread_stack() {
  if (tls_stack_bounds.high != 0) return tls_stack_bounds;
  pthread_attr_t attributes;
  if (pthread_getattr_np(pthread_self(), &attributes) != 0) return {};
  void* low = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attributes, &low, &size) == 0) {
    tls_stack_bounds = {reinterpret_cast<uintptr_t>(low), reinterpret_cast<uintptr_t>(low) + size};
  }
  pthread_attr_destroy(&attributes);
  return tls_stack_bounds;
}

}  // namespace

// A frame record is {saved frame pointer, return address} at the frame
// pointer (x86-64 and AArch64 alike); callers' records lie higher up.
// Not instrumented: a chain broken by code without frame pointers may lead
// anywhere in the thread's stack, a sanitizer's redzones included; the
// bounds check is what keeps those reads safe.
__attribute__((noinline)) OOMTRACE_NOT_SANITIZED void capture_frame_pointer_stack(RawStack& stack) {
  stack.depth = 0;
  StackBounds bounds = this_thread_stack();
  auto frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  bool past_this_library = false;
  while (stack.depth < kMaxStackDepth) {
    if (frame < bounds.low || frame > bounds.high - 2 * sizeof(uintptr_t) || frame % sizeof(uintptr_t) != 0) {
      break;
    }
    const auto* record = reinterpret_cast<const uintptr_t*>(frame);
    uintptr_t next = record[0];
    uintptr_t return_address = record[1];
    if (return_address == 0) break;
    if (past_this_library || !is_inside_this_library(reinterpret_cast<void*>(return_address))) {
      past_this_library = true;
      stack.frames[stack.depth++] = return_address;
    }
    if (next <= frame) break;
    frame = next;
  }
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
