// Where the simulated driver puts fake device addresses. Shared with the
// simulated runtime, which tells device pointers from host ones by window
// (cudaPointerGetAttributes, copies), as the real runtime asks the driver.
//
// The layout stays clear of where Linux puts executables (0x55..), heaps and
// shared libraries / mmap (0x7f..), so a fake device pointer never equals a
// real host pointer such as managed memory.
#pragma once

#include <cstdint>

#include "fake_cuda_config.h"

namespace fake_cuda {

inline constexpr std::uint64_t kDeviceWindowBase = 0x3000'0000'0000;
inline constexpr std::uint64_t kDeviceWindowSpan = 0x0100'0000'0000;  // 1 TiB per device
inline constexpr std::uint64_t kReservationWindowBase = kDeviceWindowBase + kMaxDevices * kDeviceWindowSpan;
inline constexpr std::uint64_t kReservationWindowSpan = 0x1000'0000'0000;  // 16 TiB for cuMemAddressReserve
// The legacy cuMemAlloc returns a 32-bit CUdeviceptr_v1, so those
// allocations come from a window below 4 GiB shared by all devices.
inline constexpr std::uint64_t kLegacyWindowBase = 0x8000'0000;
inline constexpr std::uint64_t kLegacyWindowLimit = 0x1'0000'0000;

// The device whose window holds `address`; -1 for a VMM reservation (not
// tied to one device) and for anything outside the device windows.
inline int device_of_address(std::uint64_t address) {
  if (address < kDeviceWindowBase || address >= kReservationWindowBase) return -1;
  return static_cast<int>((address - kDeviceWindowBase) / kDeviceWindowSpan);
}

inline bool is_device_window_address(std::uint64_t address) {
  return address >= kDeviceWindowBase && address < kReservationWindowBase + kReservationWindowSpan;
}

}  // namespace fake_cuda
