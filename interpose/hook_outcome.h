// What every allocation wrapper does after the real call returned: record a
// success or an out-of-memory, on the outermost hook only, errno preserved.
#pragma once

#include <cstdint>

#include "allocator/event.h"
#include "interpose/current_device.h"
#include "interpose/diagnostics.h"
#include "interpose/hook_scope.h"
#include "interpose/recorder.h"

namespace oomtrace::interpose {

// Both cudaErrorMemoryAllocation and CUDA_ERROR_OUT_OF_MEMORY are 2.
inline constexpr int kOutOfMemory = 2;

inline int device_for(Api api) {
  MemoryKind kind = api_memory_kind(api);
  return kind == MemoryKind::HostPinned || kind == MemoryKind::AddressRange ? kHostDevice
                                                                            : current_device();
}

// `pool`: the pool a ...FromPoolAsync call named, read at a failure.
inline void after_allocation(const HookScope& scope, Api api, int result, uint64_t address,
                             uint64_t size, uint64_t requested, uint64_t stream = 0,
                             uint64_t pool = 0) {
  if (!scope.outermost()) return;
  ErrnoKeeper keep_errno;
  if (result == 0 && address != 0) {
    record_allocation(api, device_for(api), address, size, stream);
  } else if (result == kOutOfMemory) {
    record_failure(api, device_for(api), requested, result, stream, pool);
  }
}

// Recorded before the real free: once the driver has the memory back it may
// hand the same address to another thread, whose allocation must come after
// this free in the trace. A free the driver then rejects (an address it never
// gave out) shows up in the report as an unmatched free.
inline void before_release(const HookScope& scope, Api api, uint64_t address,
                           uint64_t stream = 0) {
  if (!scope.outermost() || address == 0) return;
  ErrnoKeeper keep_errno;
  record_release(api, address, stream);
}

inline void report_missing(const char* name) {
  ErrnoKeeper keep_errno;
  warn_once(Warning::MissingRealFunction,
            std::string("cannot find the real ") + name +
                " in any loaded library; the call fails as the missing library would.");
}

}  // namespace oomtrace::interpose

// The preamble every wrapper shares: enter the scope, find the real
// function, and fail the way an absent library would if there is none.
#define OOMTRACE_BEGIN_HOOK(name, missing_result)       \
  ::oomtrace::interpose::HookScope scope;                \
  auto* real = OOMTRACE_REAL(name);                      \
  if (!real) {                                           \
    ::oomtrace::interpose::report_missing(#name);        \
    return missing_result;                               \
  }
