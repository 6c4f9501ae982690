// A cached call-frame-information unwinder (OOMTRACE_STACKS=cfi).
//
// libgcc's _Unwind_Backtrace finds and interprets each frame's DWARF rules
// anew on every call (~1,600 instructions a frame). Here the rules are
// interpreted once per return address, reduced to a FrameRule
// (eh_frame_rules.h) and kept in a fixed, lock-free table shared by all
// threads; a walk is then a table probe and two loads a frame, through
// code built with or without frame pointers alike.
//
//  - Only the calling thread's stack is read, each address checked against
//    its bounds first; a frame that would lead outside them, or whose CFA
//    does not lie above the last, ends the stack there.
//  - A frame whose rule is not expressible (a signal frame, a CFA computed
//    by an expression, code without call-frame information such as JIT
//    code) hands the whole stack to _Unwind_Backtrace instead, so the
//    result is libgcc's. So does a start on another stack (sigaltstack).
//  - The first sight of a return address takes the loader's lock
//    (dl_iterate_phdr); after that nothing allocates, locks or calls into
//    the loader.
//  - Unloaded objects: each miss reads the loader's count of objects
//    unloaded so far (dlpi_subs); when it has changed, every cached rule is
//    dropped (an epoch bump). A rule can only be stale for an address whose
//    object was unloaded and another loaded in its place without a single
//    miss in between, and even then a wrong rule gives wrong frames, never
//    a read outside the stack.
//
// x86-64 only: elsewhere cfi_backtrace is _Unwind_Backtrace.
#pragma once

#include <cstdint>

namespace oomtrace::interpose::stacks {

// True for a frame to leave out while it is among the innermost frames
// (liboomtrace.so's own); nullptr keeps all.
using LeadingFrameFilter = bool (*)(const void* return_address);

// Writes the return addresses of the caller's stack, innermost first,
// starting with the one into the caller of cfi_backtrace itself, at most
// `capacity`; returns how many. The frames are the ones _Unwind_Backtrace
// reports, up to the point where an inconsistency ends the stack.
int cfi_backtrace(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading);

// libgcc's unwinder, started the same way: what cfi_backtrace falls back to.
int libgcc_backtrace(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading);

struct CfiCounters {
  uint64_t rules_computed;  // misses: rules interpreted under the loader's lock
  uint64_t fallbacks;       // stacks handed to _Unwind_Backtrace
  uint64_t cache_flushes;   // after an object was unloaded
};
CfiCounters cfi_counters();

}  // namespace oomtrace::interpose::stacks
