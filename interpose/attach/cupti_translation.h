// What a CUPTI driver-API callback means for the trace: the same event the
// preload wrapper of that function records (driver_hooks.cpp,
// vmm_hooks.cpp), read from the callback's typed parameters and the result,
// and at the same moment relative to the real call. Pure: no CUPTI library,
// only the toolkit's headers, so the unit tests can feed it hand-built
// parameters.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "allocator/api.h"

namespace oomtrace::interpose {

enum class DriverCallKind : uint8_t { Allocation, Release, Mapping, Unmapping, Failure };

// CUPTI's callback sites (CUPTI_API_ENTER, CUPTI_API_EXIT).
enum class ApiSite : uint8_t { Enter, Exit };

struct DriverCall {
  DriverCallKind kind = DriverCallKind::Allocation;
  Api api = Api::Unknown;
  // Allocation, Release: what the recorder keys the memory by; for
  // cuMemCreate and cuMemRelease that is the handle, as in vmm_hooks.cpp.
  // Mapping, Unmapping: the mapped address.
  uint64_t address = 0;
  // Allocation: bytes held (cuMemAllocPitch: pitch * height). Failure: bytes
  // requested (cuMemAllocPitch: width * height). Mapping, Unmapping: bytes
  // mapped. Release: 0, as the preload hooks record none.
  uint64_t size = 0;
  uint64_t handle = 0;  // cuMemCreate, cuMemRelease, cuMemMap
  uint64_t stream = 0;  // stream-ordered calls
  uint64_t pool = 0;    // cuMemAllocFromPoolAsync*
  int result = 0;       // the CUresult the call returned; 0 at enter
  // Set only when the call itself names where the memory lives (cuMemCreate's
  // location; kHostDevice for host memory); otherwise the caller decides,
  // from the thread's current device, as the preload hooks do.
  std::optional<int> device;
};

// `callback_id`: a CUpti_driver_api_trace_cbid. `params`: the callback's
// functionParams, the *_params struct of generated_cuda_meta.h for that id.
// `result`: the CUresult at API exit, ignored at enter.
//
// Allocations and mappings are read at exit: a success with its address,
// or an out-of-memory with the size asked for; any other error is nothing.
// Frees and unmaps are read at enter, before the driver can hand the memory
// to another thread, whose allocation must come after the free in the trace
// (before_release in hook_outcome.h); a free the driver then refuses shows
// up as an unmatched free, as with the preload hooks. Nothing for an id
// outside cupti_callback_ids() or at the other site.
std::optional<DriverCall> translate_driver_call(uint32_t callback_id, ApiSite site, const void* params,
                                                int result);

// Exactly the driver-API callback ids translate_driver_call understands: the
// ones to enable, and no others, so unrelated driver calls cost nothing.
std::vector<uint32_t> cupti_callback_ids();

}  // namespace oomtrace::interpose
