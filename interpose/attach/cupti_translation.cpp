// One entry per traced driver function: its callback id, the Api it is
// recorded under, the site it is recorded at, and how its parameters read.
// The ids to enable come from the same table, so an id can never be enabled
// without a translation.
#include "interpose/attach/cupti_translation.h"

#include <iterator>

// cupti.h, not generated_cuda_meta.h alone: it declares the obsolete types
// (CUdeviceptr_v1, ...) the parameter structs of legacy functions use.
#include <cupti.h>

#include "allocator/event.h"

namespace oomtrace::interpose {
namespace {

constexpr int kSuccess = CUDA_SUCCESS;
constexpr int kOutOfMemory = CUDA_ERROR_OUT_OF_MEMORY;

uint64_t stream_id(CUstream stream) { return reinterpret_cast<uint64_t>(stream); }
uint64_t pool_id(CUmemoryPool pool) { return reinterpret_cast<uint64_t>(pool); }

// Out pointers are read only after a success: the driver leaves them alone
// when it fails, so they may hold anything.
uint64_t written(const CUdeviceptr* out) { return out ? static_cast<uint64_t>(*out) : 0; }
uint64_t written(void* const* out) { return out ? reinterpret_cast<uint64_t>(*out) : 0; }

// What after_allocation (hook_outcome.h) records: a success that returned an
// address, or an out-of-memory with the size that was asked for.
struct AllocationOutcome {
  uint64_t held = 0;
  uint64_t requested = 0;
  uint64_t stream = 0;
  uint64_t pool = 0;
};

std::optional<DriverCall> allocation(Api api, int result, uint64_t address,
                                     const AllocationOutcome& outcome) {
  DriverCall call;
  call.api = api;
  call.result = result;
  call.stream = outcome.stream;
  call.pool = outcome.pool;
  if (result == kSuccess && address != 0) {
    call.kind = DriverCallKind::Allocation;
    call.address = address;
    call.size = outcome.held;
    return call;
  }
  if (result == kOutOfMemory) {
    call.kind = DriverCallKind::Failure;
    call.size = outcome.requested;
    return call;
  }
  return std::nullopt;
}

// Read at enter, so the result is not known yet (before_release).
std::optional<DriverCall> release(Api api, uint64_t address, uint64_t stream = 0) {
  if (address == 0) return std::nullopt;
  DriverCall call;
  call.kind = DriverCallKind::Release;
  call.api = api;
  call.address = address;
  call.stream = stream;
  return call;
}

// ------------------------------------------------------------ parameter shapes

// cuMemAlloc_v2, cuMemAllocManaged: {dptr, bytesize, ...}
template <typename Params>
std::optional<DriverCall> device_allocation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const Params*>(raw);
  uint64_t address = result == kSuccess ? written(p.dptr) : 0;
  return allocation(api, result, address, {p.bytesize, p.bytesize});
}

// cuMemAllocHost_v2, cuMemHostAlloc: {pp, bytesize, ...}
template <typename Params>
std::optional<DriverCall> host_allocation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const Params*>(raw);
  uint64_t address = result == kSuccess ? written(p.pp) : 0;
  return allocation(api, result, address, {p.bytesize, p.bytesize});
}

std::optional<DriverCall> pitched_allocation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const cuMemAllocPitch_v2_params*>(raw);
  uint64_t address = 0;
  uint64_t held = 0;
  if (result == kSuccess) {
    address = written(p.dptr);
    held = p.pPitch ? static_cast<uint64_t>(*p.pPitch) * p.Height : 0;
  }
  return allocation(api, result, address, {held, static_cast<uint64_t>(p.WidthInBytes) * p.Height});
}

// cuMemAllocAsync(_ptsz): {dptr, bytesize, hStream}
template <typename Params>
std::optional<DriverCall> stream_allocation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const Params*>(raw);
  uint64_t address = result == kSuccess ? written(p.dptr) : 0;
  return allocation(api, result, address, {p.bytesize, p.bytesize, stream_id(p.hStream)});
}

// cuMemAllocFromPoolAsync(_ptsz): {dptr, bytesize, pool, hStream}
template <typename Params>
std::optional<DriverCall> pool_allocation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const Params*>(raw);
  uint64_t address = result == kSuccess ? written(p.dptr) : 0;
  return allocation(api, result, address,
                    {p.bytesize, p.bytesize, stream_id(p.hStream), pool_id(p.pool)});
}

std::optional<DriverCall> device_release(Api api, const void* raw, int) {
  return release(api, static_cast<const cuMemFree_v2_params*>(raw)->dptr);
}

std::optional<DriverCall> host_release(Api api, const void* raw, int) {
  return release(api, reinterpret_cast<uint64_t>(static_cast<const cuMemFreeHost_params*>(raw)->p));
}

// cuMemFreeAsync(_ptsz): {dptr, hStream}
template <typename Params>
std::optional<DriverCall> stream_release(Api api, const void* raw, int) {
  const auto& p = *static_cast<const Params*>(raw);
  return release(api, p.dptr, stream_id(p.hStream));
}

// NCCL creates host memory with cuMemCreate: it must not count against a
// GPU (the same rule as vmm_hooks.cpp).
int location_of(const CUmemAllocationProp* prop) {
  if (prop && prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE) return prop->location.id;
  return kHostDevice;
}

std::optional<DriverCall> physical_creation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const cuMemCreate_params*>(raw);
  uint64_t handle = result == kSuccess && p.handle ? static_cast<uint64_t>(*p.handle) : 0;
  std::optional<DriverCall> call = allocation(api, result, handle, {p.size, p.size});
  if (call) {
    call->handle = handle;
    call->device = location_of(p.prop);
  }
  return call;
}

std::optional<DriverCall> physical_release(Api api, const void* raw, int) {
  const uint64_t handle = static_cast<const cuMemRelease_params*>(raw)->handle;
  std::optional<DriverCall> call = release(api, handle);
  if (call) call->handle = handle;
  return call;
}

std::optional<DriverCall> mapping(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const cuMemMap_params*>(raw);
  if (result != kSuccess) return std::nullopt;
  DriverCall call;
  call.kind = DriverCallKind::Mapping;
  call.api = api;
  call.result = result;
  call.address = p.ptr;
  call.size = p.size;
  call.handle = p.handle;
  return call;
}

// At enter, for the same reason as a free (vmm_hooks.cpp records it first too).
std::optional<DriverCall> unmapping(Api api, const void* raw, int) {
  const auto& p = *static_cast<const cuMemUnmap_params*>(raw);
  DriverCall call;
  call.kind = DriverCallKind::Unmapping;
  call.api = api;
  call.address = p.ptr;
  call.size = p.size;
  return call;
}

std::optional<DriverCall> address_reservation(Api api, const void* raw, int result) {
  const auto& p = *static_cast<const cuMemAddressReserve_params*>(raw);
  uint64_t address = result == kSuccess ? written(p.ptr) : 0;
  return allocation(api, result, address, {p.size, p.size});
}

std::optional<DriverCall> address_release(Api api, const void* raw, int) {
  return release(api, static_cast<const cuMemAddressFree_params*>(raw)->ptr);
}

// ------------------------------------------------------------ the table

using Translator = std::optional<DriverCall> (*)(Api api, const void* params, int result);

struct TracedFunction {
  uint32_t callback_id;
  Api api;
  Translator translate;
  ApiSite site;
};

// Allocations and mappings are read at exit, frees and unmaps at enter
// (cupti_translation.h says why).
#define OOMTRACE_AT_EXIT(name, translator) \
  {CUPTI_DRIVER_TRACE_CBID_##name, Api::name, translator, ApiSite::Exit}
#define OOMTRACE_AT_ENTER(name, translator) \
  {CUPTI_DRIVER_TRACE_CBID_##name, Api::name, translator, ApiSite::Enter}

constexpr TracedFunction kTracedFunctions[] = {
    OOMTRACE_AT_EXIT(cuMemAlloc_v2, device_allocation<cuMemAlloc_v2_params>),
    OOMTRACE_AT_EXIT(cuMemAllocPitch_v2, pitched_allocation),
    OOMTRACE_AT_EXIT(cuMemAllocManaged, device_allocation<cuMemAllocManaged_params>),
    OOMTRACE_AT_ENTER(cuMemFree_v2, device_release),
    OOMTRACE_AT_EXIT(cuMemAllocHost_v2, host_allocation<cuMemAllocHost_v2_params>),
    OOMTRACE_AT_EXIT(cuMemHostAlloc, host_allocation<cuMemHostAlloc_params>),
    OOMTRACE_AT_ENTER(cuMemFreeHost, host_release),
    OOMTRACE_AT_EXIT(cuMemAllocAsync, stream_allocation<cuMemAllocAsync_params>),
    OOMTRACE_AT_EXIT(cuMemAllocAsync_ptsz, stream_allocation<cuMemAllocAsync_ptsz_params>),
    OOMTRACE_AT_EXIT(cuMemAllocFromPoolAsync, pool_allocation<cuMemAllocFromPoolAsync_params>),
    OOMTRACE_AT_EXIT(cuMemAllocFromPoolAsync_ptsz, pool_allocation<cuMemAllocFromPoolAsync_ptsz_params>),
    OOMTRACE_AT_ENTER(cuMemFreeAsync, stream_release<cuMemFreeAsync_params>),
    OOMTRACE_AT_ENTER(cuMemFreeAsync_ptsz, stream_release<cuMemFreeAsync_ptsz_params>),
    OOMTRACE_AT_EXIT(cuMemCreate, physical_creation),
    OOMTRACE_AT_ENTER(cuMemRelease, physical_release),
    OOMTRACE_AT_EXIT(cuMemMap, mapping),
    OOMTRACE_AT_ENTER(cuMemUnmap, unmapping),
    OOMTRACE_AT_EXIT(cuMemAddressReserve, address_reservation),
    OOMTRACE_AT_ENTER(cuMemAddressFree, address_release),
};

#undef OOMTRACE_AT_EXIT
#undef OOMTRACE_AT_ENTER

}  // namespace

std::optional<DriverCall> translate_driver_call(uint32_t callback_id, ApiSite site, const void* params,
                                                int result) {
  if (params == nullptr) return std::nullopt;
  for (const TracedFunction& function : kTracedFunctions) {
    if (function.callback_id != callback_id) continue;
    if (function.site != site) return std::nullopt;
    return function.translate(function.api, params, site == ApiSite::Exit ? result : 0);
  }
  return std::nullopt;
}

std::vector<uint32_t> cupti_callback_ids() {
  std::vector<uint32_t> ids;
  ids.reserve(std::size(kTracedFunctions));
  for (const TracedFunction& function : kTracedFunctions) ids.push_back(function.callback_id);
  return ids;
}

}  // namespace oomtrace::interpose
