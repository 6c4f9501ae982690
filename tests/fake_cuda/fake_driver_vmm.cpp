// Fake driver: virtual memory management (cuMemAddressReserve, cuMemCreate,
// cuMemMap, ...).
//
// Reservations take fake addresses from their own window and no capacity.
// cuMemCreate charges device capacity (host-located handles charge none).
// Release semantics follow the documentation: the physical memory is given
// back only once the handle has been released AND its last mapping unmapped,
// so a program that releases a handle but keeps it mapped still holds the
// memory. Not simulated: shareable handles, multicast, access enforcement
// (cuMemSetAccess only validates), and cuMemAddressFree of a range that is
// still mapped (refused with CUDA_ERROR_INVALID_VALUE rather than guessed).
#include <iterator>

#include "fake_driver_api_callbacks.h"
#include "fake_driver_state.h"

using namespace fake_cuda;

namespace {

constexpr std::size_t kHostPageSize = 4096;

bool is_power_of_two(std::size_t value) { return value != 0 && (value & (value - 1)) == 0; }

bool is_host_location(CUmemLocationType type) {
  return type == CU_MEM_LOCATION_TYPE_HOST || type == CU_MEM_LOCATION_TYPE_HOST_NUMA ||
         type == CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT;
}

// INVALID_VALUE / INVALID_DEVICE for an allocation property the fake cannot honour.
CUresult check_allocation_prop(const DriverState& state, const CUmemAllocationProp& prop) {
  if (prop.type != CU_MEM_ALLOCATION_TYPE_PINNED) return CUDA_ERROR_INVALID_VALUE;
  // A machine without NVLink fabric, like most: PyTorch probes for it first
  // and falls back to POSIX file descriptors.
  if ((prop.requestedHandleTypes & CU_MEM_HANDLE_TYPE_FABRIC) != 0) return CUDA_ERROR_NOT_SUPPORTED;
  if (is_host_location(prop.location.type)) return CUDA_SUCCESS;
  if (prop.location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
  return state.is_valid_device(prop.location.id) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

// The reservation that contains all of [ptr, ptr + size), or nullptr.
Reservation* find_reservation(DriverState& state, CUdeviceptr ptr, std::size_t size) {
  auto after = state.reservations.upper_bound(ptr);
  if (after == state.reservations.begin()) return nullptr;
  auto& [start, reservation] = *std::prev(after);
  const bool contained = ptr >= start && size <= reservation.size && ptr - start <= reservation.size - size;
  return contained ? &reservation : nullptr;
}

bool overlaps_mapping(const Reservation& reservation, CUdeviceptr ptr, std::size_t size) {
  for (const auto& [start, mapping] : reservation.mappings) {
    if (start < ptr + size && ptr < start + mapping.size) return true;
  }
  return false;
}

// True when mappings inside `reservation` tile [ptr, ptr + size) exactly:
// the range must start and end on mapping boundaries with no gap, which is
// what cuMemUnmap and cuMemSetAccess require.
bool mappings_tile_range(const Reservation& reservation, CUdeviceptr ptr, std::size_t size) {
  CUdeviceptr next = ptr;
  for (auto mapping = reservation.mappings.find(ptr); mapping != reservation.mappings.end() && next < ptr + size;
       ++mapping) {
    if (mapping->first != next) return false;
    next += mapping->second.size;
  }
  return size != 0 && next == ptr + size;
}

// Frees the physical memory once nothing refers to it any more.
void forget_physical_if_unused(DriverState& state, CUmemGenericAllocationHandle handle) {
  const auto found = state.physical.find(handle);
  const PhysicalAllocation& physical = found->second;
  if (!physical.released || physical.mappings > 0) return;
  if (physical.device >= 0) state.release_capacity(physical.device, physical.size);
  state.physical.erase(found);
}

CUresult place_reservation(DriverState& state, std::size_t size, std::size_t alignment, CUdeviceptr hint,
                           CUdeviceptr* out) {
  if (hint != 0 && hint % alignment == 0 && state.reservation_addresses.allocate_at(hint, size)) {
    *out = hint;
    return CUDA_SUCCESS;
  }
  const auto address = state.reservation_addresses.allocate(size, alignment);
  if (!address) return CUDA_ERROR_OUT_OF_MEMORY;
  *out = *address;
  return CUDA_SUCCESS;
}

}  // namespace

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemGetAllocationGranularity(size_t* granularity, const CUmemAllocationProp* prop,
                                                                CUmemAllocationGranularity_flags option) {
  if (granularity == nullptr || prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM && option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto locked = lock_driver_state();
  const CUresult valid = check_allocation_prop(locked.state, *prop);
  if (valid != CUDA_SUCCESS) return valid;
  *granularity = kGranularity;
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr* ptr, size_t size, size_t alignment, CUdeviceptr addr,
                                                      unsigned long long flags) {
  const cuMemAddressReserve_params params{ptr, size, alignment, addr, flags};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAddressReserve), params, [&]() -> CUresult {
    if (ptr == nullptr || size == 0 || size % kHostPageSize != 0 || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (alignment != 0 && !is_power_of_two(alignment)) return CUDA_ERROR_INVALID_VALUE;
    const std::size_t effective_alignment = alignment > kGranularity ? alignment : kGranularity;
    auto locked = lock_driver_state();
    CUdeviceptr start = 0;
    const CUresult placed = place_reservation(locked.state, size, effective_alignment, addr, &start);
    if (placed != CUDA_SUCCESS) return placed;
    locked.state.reservations[start] = Reservation{size, {}};
    *ptr = start;
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAddressFree(CUdeviceptr ptr, size_t size) {
  const cuMemAddressFree_params params{ptr, size};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAddressFree), params, [&]() -> CUresult {
    auto locked = lock_driver_state();
    const auto found = locked.state.reservations.find(ptr);
    if (found == locked.state.reservations.end() || found->second.size != size) return CUDA_ERROR_INVALID_VALUE;
    if (!found->second.mappings.empty()) return CUDA_ERROR_INVALID_VALUE;
    locked.state.reservation_addresses.release(ptr);
    locked.state.reservations.erase(found);
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle* handle, size_t size,
                                              const CUmemAllocationProp* prop, unsigned long long flags) {
  const cuMemCreate_params params{handle, size, prop, flags};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemCreate), params, [&]() -> CUresult {
    if (handle == nullptr || prop == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    if (size == 0 || size % kGranularity != 0) return CUDA_ERROR_INVALID_VALUE;
    auto locked = lock_driver_state();
    DriverState& state = locked.state;
    const CUresult valid = check_allocation_prop(state, *prop);
    if (valid != CUDA_SUCCESS) return valid;
    const int device = prop->location.type == CU_MEM_LOCATION_TYPE_DEVICE ? prop->location.id : -1;
    if (device >= 0 && !state.try_hold_capacity(device, size)) return CUDA_ERROR_OUT_OF_MEMORY;
    const CUmemGenericAllocationHandle created = state.next_physical_handle++;
    state.physical[created] = PhysicalAllocation{size, device, false, 0};
    *handle = created;
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle) {
  const cuMemRelease_params params{handle};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemRelease), params, [&]() -> CUresult {
    auto locked = lock_driver_state();
    const auto found = locked.state.physical.find(handle);
    if (found == locked.state.physical.end() || found->second.released) return CUDA_ERROR_INVALID_VALUE;
    found->second.released = true;
    forget_physical_if_unused(locked.state, handle);
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                                           CUmemGenericAllocationHandle handle, unsigned long long flags) {
  const cuMemMap_params params{ptr, size, offset, handle, flags};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemMap), params, [&]() -> CUresult {
    // The documentation requires offset == 0 and flags == 0 for now.
    if (flags != 0 || offset != 0 || size == 0) return CUDA_ERROR_INVALID_VALUE;
    if (size % kGranularity != 0 || ptr % kGranularity != 0) return CUDA_ERROR_INVALID_VALUE;
    auto locked = lock_driver_state();
    DriverState& state = locked.state;
    const auto physical = state.physical.find(handle);
    if (physical == state.physical.end() || physical->second.released) return CUDA_ERROR_INVALID_VALUE;
    if (size > physical->second.size) return CUDA_ERROR_INVALID_VALUE;
    Reservation* reservation = find_reservation(state, ptr, size);
    if (reservation == nullptr || overlaps_mapping(*reservation, ptr, size)) return CUDA_ERROR_INVALID_VALUE;
    reservation->mappings[ptr] = Mapping{size, handle};
    ++physical->second.mappings;
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemUnmap(CUdeviceptr ptr, size_t size) {
  const cuMemUnmap_params params{ptr, size};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemUnmap), params, [&]() -> CUresult {
    auto locked = lock_driver_state();
    DriverState& state = locked.state;
    Reservation* reservation = find_reservation(state, ptr, size);
    if (reservation == nullptr || !mappings_tile_range(*reservation, ptr, size)) return CUDA_ERROR_INVALID_VALUE;
    auto mapping = reservation->mappings.find(ptr);
    while (mapping != reservation->mappings.end() && mapping->first < ptr + size) {
      const CUmemGenericAllocationHandle handle = mapping->second.handle;
      mapping = reservation->mappings.erase(mapping);
      --state.physical.at(handle).mappings;
      forget_physical_if_unused(state, handle);
    }
    return CUDA_SUCCESS;
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc* desc,
                                                 size_t count) {
  if (desc == nullptr || count == 0) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  DriverState& state = locked.state;
  Reservation* reservation = find_reservation(state, ptr, size);
  if (reservation == nullptr || !mappings_tile_range(*reservation, ptr, size)) return CUDA_ERROR_INVALID_VALUE;
  for (std::size_t index = 0; index < count; ++index) {
    const CUmemLocation& location = desc[index].location;
    const bool valid_location = is_host_location(location.type) ||
                                (location.type == CU_MEM_LOCATION_TYPE_DEVICE && state.is_valid_device(location.id));
    if (!valid_location) return CUDA_ERROR_INVALID_DEVICE;
  }
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp* prop,
                                                                         CUmemGenericAllocationHandle handle) {
  if (prop == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  const auto found = locked.state.physical.find(handle);
  if (found == locked.state.physical.end()) return CUDA_ERROR_INVALID_VALUE;
  *prop = CUmemAllocationProp{};
  prop->type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop->location.type = found->second.device >= 0 ? CU_MEM_LOCATION_TYPE_DEVICE : CU_MEM_LOCATION_TYPE_HOST;
  prop->location.id = found->second.device >= 0 ? found->second.device : 0;
  return CUDA_SUCCESS;
}
