// Bookkeeping behind the fake CUDA driver: per-device capacity and fake
// addresses, live allocations, stream-ordered memory pools, VMM reservations
// and physical handles, streams, and the host memory handed out by
// cuMemAllocHost/cuMemHostAlloc/cuMemAllocManaged.
//
// All of it is guarded by one mutex (lock_driver_state). The per-thread
// context stack is separate (fake_driver_context.h) because it is thread-local.
//
// Simulated: capacity accounting at 2 MiB granularity, other processes' usage,
// context overhead, deterministic first-fit addresses, pools that reserve
// chunks, carve blocks out of them and cache freed blocks up to a release
// threshold. Not simulated: memory contents (device addresses are
// never backed), stream ordering (every operation completes immediately),
// peer access, IPC/shareable handles, per-pool access descriptors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "address_layout.h"
#include "address_window.h"
#include "fake_cuda_config.h"
#include "fake_driver_api.h"

namespace fake_cuda {

// Opaque handles are counters in disjoint ranges: deterministic, never
// dereferenced, and a stream handle can never be mistaken for a pool handle.
inline constexpr std::uint64_t kFirstStreamHandle = 0x5700'0000;
inline constexpr std::uint64_t kFirstPoolHandle = 0x9000'0000;
inline constexpr std::uint64_t kHandleStride = 0x10;
inline constexpr std::uint64_t kFirstPhysicalHandle = 0x1000;

// The legacy 32-bit entry points clamp what does not fit rather than wrap.
inline unsigned int clamp_to_uint(std::size_t value) {
  return value > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<unsigned int>(value);
}

struct DeviceLedger {
  DeviceConfig config;
  AddressWindow addresses;
  std::size_t held_bytes = 0;  // everything this process holds, 2 MiB-rounded
  bool context_used = false;   // context overhead is charged from then on
  int primary_refcount = 0;
  std::uint64_t default_pool = 0;

  DeviceLedger(DeviceConfig device_config, int device);
  std::size_t context_bytes() const { return context_used ? config.context_bytes : 0; }
  std::size_t free_bytes() const;
};

enum class AllocationKind { kDevice, kLegacy32, kPoolBlock };

struct DeviceAllocation {
  int device = 0;
  // Held from the device (a 2 MiB multiple); for a pool block, its share of
  // its chunk, which is what holds the device's capacity.
  std::size_t capacity_bytes = 0;
  AllocationKind kind = AllocationKind::kDevice;
  std::uint64_t pool = 0;   // kPoolBlock: owning pool
  CUdeviceptr chunk = 0;    // kPoolBlock: the chunk it was carved from
};

// Device memory a pool reserved in one piece. Blocks are carved out of its
// free ranges; the chunk goes back to the device only when no block of it
// is live, so a freed block inside a chunk still in use stays reserved.
struct PoolChunk {
  std::size_t size = 0;
  std::size_t live_blocks = 0;
  std::map<CUdeviceptr, std::size_t> free_ranges;  // by start; neighbours merged
};

struct MemoryPool {
  int device = 0;
  bool is_default = false;
  bool destroyed = false;    // destroyed while blocks were still allocated
  std::size_t max_size = 0;  // 0: bounded only by the device
  cuuint64_t release_threshold = 0;
  int reuse_follow_event_dependencies = 1;
  int reuse_allow_opportunistic = 1;
  int reuse_allow_internal_dependencies = 1;
  std::map<CUdeviceptr, PoolChunk> chunks;  // by start address
  std::size_t live_blocks = 0;
  std::size_t reserved = 0;  // all chunks
  std::size_t used = 0;      // live blocks
  std::size_t reserved_high = 0;
  std::size_t used_high = 0;
};

struct PhysicalAllocation {
  std::size_t size = 0;
  int device = -1;  // -1: host-located, holds no device capacity
  bool released = false;
  int mappings = 0;
};

struct Mapping {
  std::size_t size = 0;
  CUmemGenericAllocationHandle handle = 0;
};

struct Reservation {
  std::size_t size = 0;
  std::map<CUdeviceptr, Mapping> mappings;  // by start address
};

class DriverState {
 public:
  explicit DriverState(MachineConfig machine_config);
  ~DriverState();
  DriverState(const DriverState&) = delete;
  DriverState& operator=(const DriverState&) = delete;

  const MachineConfig& machine() const { return machine_; }
  int device_count() const { return static_cast<int>(devices_.size()); }
  bool is_valid_device(int device) const { return device >= 0 && device < device_count(); }
  DeviceLedger& device(int index) { return devices_[static_cast<std::size_t>(index)]; }

  // --- device memory (cuMemAlloc family; pool blocks share the table) ---
  CUresult allocate_device_memory(int device, std::size_t bytes, AllocationKind kind, CUdeviceptr* out);
  // Frees device memory, a pool block or managed memory; INVALID_VALUE when
  // `ptr` is none of those.
  CUresult free_device_memory(CUdeviceptr ptr);

  // --- host memory (pinned and managed): real, zero-filled mmap'd pages ---
  void* map_host_memory(std::size_t bytes, bool managed);
  // Unmaps memory from map_host_memory of the same kind; INVALID_VALUE otherwise.
  CUresult unmap_host_memory(void* pointer, bool managed);

  // --- stream-ordered pools ---
  std::uint64_t create_pool(int device, std::size_t max_size, bool is_default);
  MemoryPool* find_pool(std::uint64_t handle);  // null for unknown or destroyed pools
  CUresult allocate_from_pool(std::uint64_t handle, std::size_t bytes, CUdeviceptr* out);
  CUresult destroy_pool(std::uint64_t handle);
  void trim_pool(MemoryPool& pool, std::size_t bytes_to_keep);

  // --- streams ---
  std::uint64_t create_stream(int device);
  bool destroy_stream(std::uint64_t handle);
  bool is_known_stream(std::uint64_t handle) const { return streams_.count(handle) != 0; }
  int stream_device(std::uint64_t handle) const { return streams_.at(handle); }

  // --- capacity without an address (VMM physical memory) ---
  bool try_hold_capacity(int device, std::size_t bytes);
  void release_capacity(int device, std::size_t bytes);

  // VMM tables are manipulated directly by fake_driver_vmm.cpp.
  AddressWindow reservation_addresses{kReservationWindowBase, kReservationWindowBase + kReservationWindowSpan};
  std::map<CUdeviceptr, Reservation> reservations;
  std::map<CUmemGenericAllocationHandle, PhysicalAllocation> physical;
  CUmemGenericAllocationHandle next_physical_handle = kFirstPhysicalHandle;

 private:
  // Claims capacity and a fresh 2 MiB-aligned fake address on `device`.
  bool reserve_device_block(int device, std::size_t capacity, CUdeviceptr* out);
  void release_device_block(int device, CUdeviceptr address, std::size_t capacity);
  bool carve_pool_block(MemoryPool& pool, std::size_t bytes, CUdeviceptr* out, CUdeviceptr* chunk);
  bool reserve_pool_chunk(MemoryPool& pool, std::size_t bytes);
  CUresult grow_pool(MemoryPool& pool, std::size_t bytes);
  void return_pool_block(CUdeviceptr ptr, const DeviceAllocation& block);
  void release_pool_chunk(MemoryPool& pool, std::map<CUdeviceptr, PoolChunk>::iterator chunk);

  MachineConfig machine_;
  std::vector<DeviceLedger> devices_;
  AddressWindow legacy_addresses_{kLegacyWindowBase, kLegacyWindowLimit};
  std::map<CUdeviceptr, DeviceAllocation> device_allocations_;
  struct HostBlock {
    std::size_t size = 0;
    bool managed = false;
  };
  std::map<void*, HostBlock> host_allocations_;  // pinned host and managed, by start
  std::map<std::uint64_t, MemoryPool> pools_;
  std::map<std::uint64_t, int> streams_;  // handle -> device
  std::uint64_t next_pool_handle_ = kFirstPoolHandle;
  std::uint64_t next_stream_handle_ = kFirstStreamHandle;
};

struct LockedDriverState {
  std::unique_lock<std::mutex> lock;
  DriverState& state;
};

// Locks the process-wide state, creating it from the environment on first use.
LockedDriverState lock_driver_state();

// Test-only: rebuilds the state from the current environment.
void reset_driver_state();

// Incremented by every reset so that thread-local context stacks created
// before it can notice they are stale.
std::uint64_t driver_state_generation();

}  // namespace fake_cuda
