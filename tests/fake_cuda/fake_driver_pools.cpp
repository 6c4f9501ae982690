// Fake driver: stream-ordered allocation (cuMemAllocAsync family) and memory
// pools.
//
// Each device has a default pool (also its current pool; cuDeviceSetMemPool is
// not simulated). Pools reserve device memory in chunks (at least
// FAKE_CUDA_POOL_CHUNK_MIB, 2 MiB by default) and carve 2 MiB-granular blocks
// out of them, best fit; freed blocks merge with free neighbours in their
// chunk. As in the real driver, only whole unused chunks go back to the
// device (above the release threshold, or when the pool trims its own cache
// before reporting out-of-memory), so a hole inside a chunk still in use
// stays reserved: that is how a pool fragments. Streams complete
// immediately, so a freed block is reusable at once and above-threshold
// memory is released at the free (the real driver does it at the next
// synchronization). Pool IPC, access descriptors and host/managed pools are
// not simulated.
#include <algorithm>

#include "fake_driver_api_callbacks.h"
#include "fake_driver_context.h"
#include "fake_driver_state.h"

using namespace fake_cuda;

namespace {

std::uint64_t pool_handle(CUmemoryPool pool) { return reinterpret_cast<std::uint64_t>(pool); }

CUmemoryPool pool_from_handle(std::uint64_t handle) { return reinterpret_cast<CUmemoryPool>(handle); }

CUresult allocate_async(CUdeviceptr* dptr, std::size_t bytesize, CUstream stream) {
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  int device = 0;
  const CUresult placed = device_for_stream(locked.state, stream, &device);
  if (placed != CUDA_SUCCESS) return placed;
  return locked.state.allocate_from_pool(locked.state.device(device).default_pool, bytesize, dptr);
}

CUresult allocate_from_pool_async(CUdeviceptr* dptr, std::size_t bytesize, CUmemoryPool pool, CUstream stream) {
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  int device = 0;
  const CUresult placed = device_for_stream(locked.state, stream, &device);
  if (placed != CUDA_SUCCESS) return placed;
  return locked.state.allocate_from_pool(pool_handle(pool), bytesize, dptr);
}

CUresult free_async(CUdeviceptr dptr, CUstream stream) {
  auto locked = lock_driver_state();
  int device = 0;
  const CUresult placed = device_for_stream(locked.state, stream, &device);
  if (placed != CUDA_SUCCESS) return placed;
  if (dptr == 0) return CUDA_SUCCESS;
  // Any device allocation may be freed here, not only pool blocks.
  return locked.state.free_device_memory(dptr);
}

CUresult set_reuse_flag(int* flag, const void* value) {
  *flag = *static_cast<const int*>(value);
  return CUDA_SUCCESS;
}

// The high watermarks may only be reset, by writing 0.
CUresult reset_high_watermark(std::size_t* high, std::size_t current, const void* value) {
  if (*static_cast<const cuuint64_t*>(value) != 0) return CUDA_ERROR_INVALID_VALUE;
  *high = current;
  return CUDA_SUCCESS;
}

CUresult set_pool_attribute(DriverState& state, MemoryPool& pool, CUmemPool_attribute attr, const void* value) {
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
      return set_reuse_flag(&pool.reuse_follow_event_dependencies, value);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
      return set_reuse_flag(&pool.reuse_allow_opportunistic, value);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
      return set_reuse_flag(&pool.reuse_allow_internal_dependencies, value);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
      pool.release_threshold = *static_cast<const cuuint64_t*>(value);
      // A lowered threshold takes effect at the next synchronization in the
      // real driver; here everything is always synchronized.
      state.trim_pool(pool, static_cast<std::size_t>(std::min<cuuint64_t>(pool.release_threshold, SIZE_MAX)));
      return CUDA_SUCCESS;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
      return reset_high_watermark(&pool.reserved_high, pool.reserved, value);
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
      return reset_high_watermark(&pool.used_high, pool.used, value);
    default:  // the *_CURRENT counters are read-only
      return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult get_pool_attribute(const MemoryPool& pool, CUmemPool_attribute attr, void* value) {
  auto as_int = [value](int flag) {
    *static_cast<int*>(value) = flag;
    return CUDA_SUCCESS;
  };
  auto as_u64 = [value](cuuint64_t amount) {
    *static_cast<cuuint64_t*>(value) = amount;
    return CUDA_SUCCESS;
  };
  switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES: return as_int(pool.reuse_follow_event_dependencies);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC: return as_int(pool.reuse_allow_opportunistic);
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES: return as_int(pool.reuse_allow_internal_dependencies);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: return as_u64(pool.release_threshold);
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: return as_u64(pool.reserved);
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH: return as_u64(pool.reserved_high);
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: return as_u64(pool.used);
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH: return as_u64(pool.used_high);
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult default_pool(CUmemoryPool* pool_out, CUdevice dev) {
  if (pool_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  if (!locked.state.is_valid_device(dev)) return CUDA_ERROR_INVALID_DEVICE;
  *pool_out = pool_from_handle(locked.state.device(dev).default_pool);
  return CUDA_SUCCESS;
}

}  // namespace

// ------------------------------------------------------------ stream-ordered allocation

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocAsync), cuMemAllocAsync_params{dptr, bytesize, hStream},
                         [&] { return allocate_async(dptr, bytesize, hStream); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUstream hStream) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocAsync_ptsz), cuMemAllocAsync_ptsz_params{dptr, bytesize, hStream},
                         [&] { return allocate_async(dptr, bytesize, hStream); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                                          CUstream hStream) {
  const cuMemAllocFromPoolAsync_params params{dptr, bytesize, pool, hStream};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocFromPoolAsync), params,
                         [&] { return allocate_from_pool_async(dptr, bytesize, pool, hStream); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t bytesize, CUmemoryPool pool,
                                                               CUstream hStream) {
  const cuMemAllocFromPoolAsync_ptsz_params params{dptr, bytesize, pool, hStream};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocFromPoolAsync_ptsz), params,
                         [&] { return allocate_from_pool_async(dptr, bytesize, pool, hStream); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemFreeAsync), cuMemFreeAsync_params{dptr, hStream},
                         [&] { return free_async(dptr, hStream); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemFreeAsync_ptsz), cuMemFreeAsync_ptsz_params{dptr, hStream},
                         [&] { return free_async(dptr, hStream); });
}

// ------------------------------------------------------------ pools

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDeviceGetDefaultMemPool(CUmemoryPool* pool_out, CUdevice dev) {
  return default_pool(pool_out, dev);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuDeviceGetMemPool(CUmemoryPool* pool, CUdevice dev) { return default_pool(pool, dev); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemPoolCreate(CUmemoryPool* pool, const CUmemPoolProps* poolProps) {
  if (pool == nullptr || poolProps == nullptr || poolProps->allocType != CU_MEM_ALLOCATION_TYPE_PINNED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (poolProps->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return CUDA_ERROR_NOT_SUPPORTED;
  auto locked = lock_driver_state();
  if (!locked.state.is_valid_device(poolProps->location.id)) return CUDA_ERROR_INVALID_VALUE;
  // Like the granularity of the reservations themselves, maxSize is honoured
  // in whole 2 MiB blocks.
  const std::size_t max_size = poolProps->maxSize / kGranularity * kGranularity;
  *pool = pool_from_handle(locked.state.create_pool(poolProps->location.id, max_size, /*is_default=*/false));
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemPoolDestroy(CUmemoryPool pool) {
  auto locked = lock_driver_state();
  return locked.state.destroy_pool(pool_handle(pool));
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  MemoryPool* found = locked.state.find_pool(pool_handle(pool));
  if (found == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return set_pool_attribute(locked.state, *found, attr, value);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void* value) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  const MemoryPool* found = locked.state.find_pool(pool_handle(pool));
  if (found == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return get_pool_attribute(*found, attr, value);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep) {
  auto locked = lock_driver_state();
  MemoryPool* found = locked.state.find_pool(pool_handle(pool));
  if (found == nullptr) return CUDA_ERROR_INVALID_VALUE;
  locked.state.trim_pool(*found, minBytesToKeep);
  return CUDA_SUCCESS;
}
