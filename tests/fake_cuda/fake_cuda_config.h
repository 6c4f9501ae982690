// Configuration of the simulated CUDA machine, shared by the fake driver
// (libcuda.so.1) and the fake NVML (libnvidia-ml.so.1) so that both describe
// the same devices.
//
// Every value comes from a FAKE_CUDA_* environment variable (see
// read_machine_config_from_environment). Nothing here talks to a real GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fake_cuda {

inline constexpr std::size_t kMiB = std::size_t{1} << 20;

// Capacity, addresses, pool chunks and VMM handles all use this granularity,
// which is what current NVIDIA drivers report for device memory.
inline constexpr std::size_t kGranularity = 2 * kMiB;

// Upper bound on FAKE_CUDA_DEVICES; each device gets its own fake address
// window, and 16 windows fit the layout chosen in fake_driver_state.h.
inline constexpr int kMaxDevices = 16;

inline constexpr int kDefaultTotalMiB = 16384;
inline constexpr unsigned kDefaultOtherPid = 4242;

struct DeviceConfig {
  std::size_t total_bytes = 0;    // FAKE_CUDA_TOTAL_MIB
  std::size_t other_bytes = 0;    // FAKE_CUDA_OTHER_MIB: held by another process
  std::size_t context_bytes = 0;  // FAKE_CUDA_CONTEXT_MIB: charged once the context is used
};

struct MachineConfig {
  std::vector<DeviceConfig> devices;  // FAKE_CUDA_DEVICES entries
  unsigned other_pid = kDefaultOtherPid;
  std::string name = "Fake GPU";
  // FAKE_CUDA_POOL_CHUNK_MIB: the least a stream-ordered pool reserves when
  // it grows (a multiple of kGranularity). One granule by default: a pool
  // then grows by exactly what the request needs.
  std::size_t pool_chunk_bytes = kGranularity;
};

// Reads FAKE_CUDA_DEVICES, FAKE_CUDA_TOTAL_MIB, FAKE_CUDA_OTHER_MIB,
// FAKE_CUDA_CONTEXT_MIB, FAKE_CUDA_OTHER_PID, FAKE_CUDA_NAME and
// FAKE_CUDA_POOL_CHUNK_MIB.
// The three *_MIB variables accept either one number (applied to every
// device) or a comma-separated list with one number per device (devices
// beyond the end of the list get the default). Malformed values are reported
// on stderr and replaced by the default, so a typo cannot silently produce a
// half-configured machine without a trace.
MachineConfig read_machine_config_from_environment();

// PCI bus id in the form used by both fakes: "00000000:%02X:00.0" with the
// bus number 0x10 + device.
std::string pci_bus_id(int device);

// Inverse of pci_bus_id, tolerant about the width of the domain field
// ("0000:10:00.0" and "00000000:10:00.0" both work). Returns -1 when the id
// does not name one of `device_count` devices.
int device_from_pci_bus_id(const char* bus_id, int device_count);

// Saturates instead of wrapping, so an absurd request (e.g. SIZE_MAX bytes)
// stays absurd and fails the capacity check rather than rounding to 0.
constexpr std::size_t round_up(std::size_t value, std::size_t multiple) {
  const std::size_t largest = SIZE_MAX / multiple * multiple;
  if (value > largest) return largest;
  return (value + multiple - 1) / multiple * multiple;
}

}  // namespace fake_cuda
