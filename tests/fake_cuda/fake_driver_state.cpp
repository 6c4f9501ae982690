// Device-memory, pool, stream and host-memory bookkeeping of the fake driver
// (see fake_driver_state.h).
#include "fake_driver_state.h"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <utility>

namespace fake_cuda {

// ---------------------------------------------------------------- ledger

DeviceLedger::DeviceLedger(DeviceConfig device_config, int device)
    : config(device_config),
      addresses(kDeviceWindowBase + static_cast<std::uint64_t>(device) * kDeviceWindowSpan,
                kDeviceWindowBase + static_cast<std::uint64_t>(device + 1) * kDeviceWindowSpan) {}

std::size_t DeviceLedger::free_bytes() const {
  // Other processes may be configured to hold more than the device has; the
  // real driver then reports 0 free, never a negative amount.
  const std::size_t taken = config.other_bytes + context_bytes() + held_bytes;
  return taken >= config.total_bytes ? 0 : config.total_bytes - taken;
}

// ---------------------------------------------------------------- state

DriverState::DriverState(MachineConfig machine_config) : machine_(std::move(machine_config)) {
  devices_.reserve(machine_.devices.size());
  for (std::size_t index = 0; index < machine_.devices.size(); ++index) {
    devices_.emplace_back(machine_.devices[index], static_cast<int>(index));
  }
  for (int index = 0; index < device_count(); ++index) {
    device(index).default_pool = create_pool(index, 0, /*is_default=*/true);
  }
}

DriverState::~DriverState() {
  for (const auto& [pointer, block] : host_allocations_) munmap(pointer, block.size);
}

bool DriverState::try_hold_capacity(int device_index, std::size_t bytes) {
  DeviceLedger& ledger = device(device_index);
  if (bytes > ledger.free_bytes()) return false;
  ledger.held_bytes += bytes;
  return true;
}

void DriverState::release_capacity(int device_index, std::size_t bytes) { device(device_index).held_bytes -= bytes; }

bool DriverState::reserve_device_block(int device_index, std::size_t capacity, CUdeviceptr* out) {
  if (!try_hold_capacity(device_index, capacity)) return false;
  const auto address = device(device_index).addresses.allocate(capacity, kGranularity);
  if (!address) {
    release_capacity(device_index, capacity);
    return false;
  }
  *out = *address;
  return true;
}

void DriverState::release_device_block(int device_index, CUdeviceptr address, std::size_t capacity) {
  device(device_index).addresses.release(address);
  release_capacity(device_index, capacity);
}

// ---------------------------------------------------------------- device memory

CUresult DriverState::allocate_device_memory(int device_index, std::size_t bytes, AllocationKind kind,
                                             CUdeviceptr* out) {
  const std::size_t capacity = round_up(bytes, kGranularity);
  CUdeviceptr address = 0;
  if (kind == AllocationKind::kLegacy32) {
    // Capacity still comes from the device; only the address is special.
    if (!try_hold_capacity(device_index, capacity)) return CUDA_ERROR_OUT_OF_MEMORY;
    const auto legacy = legacy_addresses_.allocate(capacity, kGranularity);
    if (!legacy) {
      release_capacity(device_index, capacity);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    address = *legacy;
  } else if (!reserve_device_block(device_index, capacity, &address)) {
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  device_allocations_[address] = DeviceAllocation{device_index, capacity, kind, 0, 0};
  *out = address;
  return CUDA_SUCCESS;
}

CUresult DriverState::free_device_memory(CUdeviceptr ptr) {
  const auto found = device_allocations_.find(ptr);
  if (found == device_allocations_.end()) {
    // cuMemFree also frees cuMemAllocManaged memory.
    return unmap_host_memory(reinterpret_cast<void*>(ptr), /*managed=*/true);
  }
  const DeviceAllocation allocation = found->second;
  device_allocations_.erase(found);
  switch (allocation.kind) {
    case AllocationKind::kDevice:
      release_device_block(allocation.device, ptr, allocation.capacity_bytes);
      break;
    case AllocationKind::kLegacy32:
      legacy_addresses_.release(ptr);
      release_capacity(allocation.device, allocation.capacity_bytes);
      break;
    case AllocationKind::kPoolBlock:
      return_pool_block(ptr, allocation);
      break;
  }
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- host memory

void* DriverState::map_host_memory(std::size_t bytes, bool managed) {
  void* pointer = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pointer == MAP_FAILED) return nullptr;
  host_allocations_[pointer] = HostBlock{bytes, managed};
  return pointer;
}

CUresult DriverState::unmap_host_memory(void* pointer, bool managed) {
  const auto found = host_allocations_.find(pointer);
  if (found == host_allocations_.end() || found->second.managed != managed) return CUDA_ERROR_INVALID_VALUE;
  munmap(pointer, found->second.size);
  host_allocations_.erase(found);
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- pools

std::uint64_t DriverState::create_pool(int device_index, std::size_t max_size, bool is_default) {
  const std::uint64_t handle = next_pool_handle_;
  next_pool_handle_ += kHandleStride;
  MemoryPool& pool = pools_[handle];
  pool.device = device_index;
  pool.is_default = is_default;
  pool.max_size = max_size;
  return handle;
}

MemoryPool* DriverState::find_pool(std::uint64_t handle) {
  const auto found = pools_.find(handle);
  if (found == pools_.end() || found->second.destroyed) return nullptr;
  return &found->second;
}

namespace {

// Gives [start, start + size) back to the chunk, merged with the free ranges
// it touches.
void add_free_range(PoolChunk& chunk, CUdeviceptr start, std::size_t size) {
  auto next = chunk.free_ranges.lower_bound(start);
  if (next != chunk.free_ranges.end() && start + size == next->first) {
    size += next->second;
    next = chunk.free_ranges.erase(next);
  }
  if (next != chunk.free_ranges.begin()) {
    const auto previous = std::prev(next);
    if (previous->first + previous->second == start) {
      previous->second += size;
      return;
    }
  }
  chunk.free_ranges.emplace_hint(next, start, size);
}

}  // namespace

bool DriverState::carve_pool_block(MemoryPool& pool, std::size_t bytes, CUdeviceptr* out, CUdeviceptr* chunk_out) {
  // Best fit, lowest address on ties (chunks and their ranges are walked in
  // address order): deterministic and wastes least.
  PoolChunk* best_chunk = nullptr;
  CUdeviceptr best_chunk_start = 0;
  CUdeviceptr best_start = 0;
  std::size_t best_size = 0;
  for (auto& [chunk_start, chunk] : pool.chunks) {
    for (const auto& [start, size] : chunk.free_ranges) {
      if (size < bytes || (best_chunk != nullptr && size >= best_size)) continue;
      best_chunk = &chunk;
      best_chunk_start = chunk_start;
      best_start = start;
      best_size = size;
    }
  }
  if (best_chunk == nullptr) return false;
  best_chunk->free_ranges.erase(best_start);
  if (best_size > bytes) best_chunk->free_ranges.emplace(best_start + bytes, best_size - bytes);
  ++best_chunk->live_blocks;
  *out = best_start;
  *chunk_out = best_chunk_start;
  return true;
}

bool DriverState::reserve_pool_chunk(MemoryPool& pool, std::size_t bytes) {
  const bool within_max_size = pool.max_size == 0 || pool.reserved + bytes <= pool.max_size;
  CUdeviceptr address = 0;
  if (!within_max_size || !reserve_device_block(pool.device, bytes, &address)) return false;
  PoolChunk& chunk = pool.chunks[address];
  chunk.size = bytes;
  chunk.free_ranges.emplace(address, bytes);
  pool.reserved += bytes;
  pool.reserved_high = std::max(pool.reserved_high, pool.reserved);
  return true;
}

// A chunk of at least the configured size, else exactly what the request
// needs. Like the real allocator, the pool gives back its own unused chunks
// before reporting out-of-memory (other pools' caches are not touched);
// chunks with a live block stay, whatever free space they have.
CUresult DriverState::grow_pool(MemoryPool& pool, std::size_t bytes) {
  const std::size_t preferred = std::max(bytes, machine_.pool_chunk_bytes);
  const auto reserve = [&] { return reserve_pool_chunk(pool, preferred) || reserve_pool_chunk(pool, bytes); };
  if (reserve()) return CUDA_SUCCESS;
  trim_pool(pool, 0);
  return reserve() ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult DriverState::allocate_from_pool(std::uint64_t handle, std::size_t bytes, CUdeviceptr* out) {
  MemoryPool* pool = find_pool(handle);
  if (pool == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::size_t used_bytes = round_up(bytes, kGranularity);
  CUdeviceptr address = 0;
  CUdeviceptr chunk = 0;
  if (!carve_pool_block(*pool, used_bytes, &address, &chunk)) {
    const CUresult grown = grow_pool(*pool, used_bytes);
    if (grown != CUDA_SUCCESS) return grown;
    carve_pool_block(*pool, used_bytes, &address, &chunk);  // only the new chunk has room
  }
  pool->used += used_bytes;
  pool->used_high = std::max(pool->used_high, pool->used);
  ++pool->live_blocks;
  device_allocations_[address] = DeviceAllocation{pool->device, used_bytes, AllocationKind::kPoolBlock, handle, chunk};
  *out = address;
  return CUDA_SUCCESS;
}

void DriverState::return_pool_block(CUdeviceptr ptr, const DeviceAllocation& block) {
  MemoryPool& pool = pools_.at(block.pool);
  PoolChunk& chunk = pool.chunks.at(block.chunk);
  add_free_range(chunk, ptr, block.capacity_bytes);
  --chunk.live_blocks;
  pool.used -= block.capacity_bytes;
  --pool.live_blocks;
  if (pool.destroyed) {
    trim_pool(pool, 0);
    if (pool.live_blocks == 0) pools_.erase(block.pool);
    return;
  }
  // The real allocator releases above-threshold memory at the next
  // synchronization; streams here complete immediately, so do it now.
  trim_pool(pool, static_cast<std::size_t>(std::min<cuuint64_t>(pool.release_threshold, SIZE_MAX)));
}

void DriverState::release_pool_chunk(MemoryPool& pool, std::map<CUdeviceptr, PoolChunk>::iterator chunk) {
  release_device_block(pool.device, chunk->first, chunk->second.size);
  pool.reserved -= chunk->second.size;
  pool.chunks.erase(chunk);
}

void DriverState::trim_pool(MemoryPool& pool, std::size_t bytes_to_keep) {
  // Only whole unused chunks can go; lowest addresses first, so the outcome
  // does not depend on free order.
  auto chunk = pool.chunks.begin();
  while (chunk != pool.chunks.end() && pool.reserved > bytes_to_keep) {
    const auto next = std::next(chunk);
    if (chunk->second.live_blocks == 0) release_pool_chunk(pool, chunk);
    chunk = next;
  }
}

CUresult DriverState::destroy_pool(std::uint64_t handle) {
  MemoryPool* pool = find_pool(handle);
  if (pool == nullptr || pool->is_default) return CUDA_ERROR_INVALID_VALUE;
  trim_pool(*pool, 0);
  // Outstanding blocks keep the pool alive until they are freed, as documented
  // for cuMemPoolDestroy; the handle itself is dead from now on.
  if (pool->live_blocks == 0) pools_.erase(handle);
  else pool->destroyed = true;
  return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- streams

std::uint64_t DriverState::create_stream(int device_index) {
  const std::uint64_t handle = next_stream_handle_;
  next_stream_handle_ += kHandleStride;
  streams_[handle] = device_index;
  return handle;
}

bool DriverState::destroy_stream(std::uint64_t handle) { return streams_.erase(handle) == 1; }

// ---------------------------------------------------------------- process-wide instance

namespace {

std::mutex g_state_mutex;
// Deliberately never destroyed: exit handlers of other libraries (a tracer,
// a framework's caching allocator) may still free memory after this
// library's static destructors would have run.
DriverState* g_state = nullptr;  // guarded by g_state_mutex
std::atomic<std::uint64_t> g_generation{0};

// fork() while another thread is inside the driver (tests/faults): the
// state is locked around the fork, so the child never inherits the lock
// held by a thread it does not have. (The real driver does not work in a
// child at all once the parent used it; the simulated one keeps working.)
void lock_before_fork() { g_state_mutex.lock(); }
void unlock_after_fork() { g_state_mutex.unlock(); }
[[maybe_unused]] const bool g_fork_handlers_installed =
    pthread_atfork(&lock_before_fork, &unlock_after_fork, &unlock_after_fork) == 0;

}  // namespace

LockedDriverState lock_driver_state() {
  std::unique_lock<std::mutex> lock(g_state_mutex);
  if (g_state == nullptr) g_state = new DriverState(read_machine_config_from_environment());
  return LockedDriverState{std::move(lock), *g_state};
}

void reset_driver_state() {
  std::lock_guard<std::mutex> lock(g_state_mutex);
  delete g_state;
  g_state = new DriverState(read_machine_config_from_environment());
  g_generation.fetch_add(1);
}

std::uint64_t driver_state_generation() { return g_generation.load(); }

}  // namespace fake_cuda
