// The public pool API (include/oomtrace/oomtrace.h): a program's own
// allocator reports the blocks it hands out of memory the process holds.
// Called once per sub-allocation, so it does what record_allocation does
// and no more: no CUDA call, a stack only where OOMTRACE_STACKS allows.
#include <oomtrace/oomtrace.h>

#include <cstdint>

#include "interpose/export.h"
#include "interpose/hook_scope.h"
#include "interpose/recorder.h"

using namespace oomtrace;
using namespace oomtrace::interpose;

namespace {

uint64_t address_of(const void* ptr) { return reinterpret_cast<uint64_t>(ptr); }

}  // namespace

OOMTRACE_EXPORT void oomtrace_pool_alloc(const void* ptr, size_t size) {
  if (!ptr) return;
  ErrnoKeeper keep_errno;
  try {
    record_pool_block(Api::oomtrace_pool_alloc, address_of(ptr), size);
  } catch (...) {
    // The caller is a C allocator: nothing may escape into it.
  }
}

OOMTRACE_EXPORT void oomtrace_pool_free(const void* ptr) {
  if (!ptr) return;
  ErrnoKeeper keep_errno;
  try {
    record_pool_block(Api::oomtrace_pool_free, address_of(ptr), 0);
  } catch (...) {
  }
}
