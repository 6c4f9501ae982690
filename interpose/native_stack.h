// Native call stacks, frames of liboomtrace.so itself left out, interned:
// each distinct stack and each distinct return address is written to the
// trace once, so an event carries one small id. Three ways to take them:
//
//   unwinder        libgcc's _Unwind_Backtrace, reading the DWARF call-frame
//                   information every object carries: right for any code,
//                   but microseconds for a deep stack (it interprets each
//                   frame's rules; README, "What it costs");
//   cached CFI      the same call-frame information, each return address's
//                   rule interpreted once and cached (stacks/cfi_unwinder.h);
//   frame pointers  follows the chain of saved frame pointers: a few ns a
//                   frame, but only as deep as the code keeps them
//                   (-fno-omit-frame-pointer); reads only the thread's own
//                   stack, checked against its bounds, so a broken chain
//                   ends the stack early instead of faulting.
//
// Debian's libunwind, whose cached fast trace heaptrack uses, cannot be
// compiled in: its static archive is not position-independent, and its
// shared library exports _Unwind_* and would take over the program's C++
// exception unwinding.
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
// Never takes a lock; the first call on a thread reads its stack bounds.
void capture_frame_pointer_stack(RawStack& stack);
// The cached CFI unwinder (stacks/cfi_unwinder.h): the unwinder's frames at
// about the cost of frame pointers once the return addresses are known; may
// take the loader's lock on the first sight of one, like the unwinder.
void capture_cfi_stack(RawStack& stack);

class StackInterner {
 public:
  // Returns the stack's id (0 for an empty stack), writing the Frame and
  // Stack records the first time they are seen.
  uint32_t intern(const RawStack& stack, trace::TraceWriter& writer);
  void clear();

 private:
  uint32_t intern_frame(uintptr_t address, trace::TraceWriter& writer);
  // Writes the Module record of the object holding `address` the first time
  // a frame falls inside it; one walk of the loaded objects per module.
  void note_module(uintptr_t address, trace::TraceWriter& writer);

  struct ModuleRange {
    uintptr_t start;
    uintptr_t end;
  };

  std::unordered_map<uint64_t, std::vector<uint32_t>> stacks_by_hash_;  // hash -> ids
  std::vector<std::vector<uintptr_t>> stacks_;  // id - 1 -> frames
  std::unordered_map<uintptr_t, uint32_t> frame_ids_;
  std::vector<ModuleRange> modules_;  // written already; a handful, searched linearly
};

}  // namespace oomtrace::interpose
