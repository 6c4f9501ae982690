// The calling thread's stack, the only memory the stack walkers read
// without knowing it is mapped.
#pragma once

#include <cstdint>

namespace oomtrace::interpose::stacks {

struct StackBounds {
  uintptr_t low = 0;
  uintptr_t high = 0;  // one past the end; both 0 when unknown
};

// The first call on a thread asks pthread (which may take a lock and, for
// the main thread, reads /proc/self/maps); later calls read a TLS copy.
StackBounds this_thread_stack();

}  // namespace oomtrace::interpose::stacks
