// Native call stacks: captured with the unwinder of the C++ runtime (libgcc's
// _Unwind_Backtrace, which glibc's _dl_find_object makes cheap), frames of
// liboomtrace.so itself left out, and interned: each distinct stack and each
// distinct return address is written to the trace once, so an event carries
// one small id.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "trace/writer.h"

namespace oomtrace::interpose {

inline constexpr int kMaxStackDepth = 64;

struct RawStack {
  uintptr_t frames[kMaxStackDepth];
  int depth = 0;
};

// Outside any lock: unwinding may take the loader's lock.
void capture_native_stack(RawStack& stack);

class StackInterner {
 public:
  // Returns the stack's id (0 for an empty stack), writing the Frame and
  // Stack records the first time they are seen.
  uint32_t intern(const RawStack& stack, trace::TraceWriter& writer);
  void clear();

 private:
  uint32_t intern_frame(uintptr_t address, trace::TraceWriter& writer);

  std::unordered_map<uint64_t, std::vector<uint32_t>> stacks_by_hash_;  // hash -> ids
  std::vector<std::vector<uintptr_t>> stacks_;  // id - 1 -> frames
  std::unordered_map<uintptr_t, uint32_t> frame_ids_;
};

}  // namespace oomtrace::interpose
