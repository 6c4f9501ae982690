// What the device looks like at the instant an allocation failed: total and
// free memory from the driver, and who holds what from NVML when
// libnvidia-ml.so.1 is present. Runs only on the failure path, never on a
// successful allocation, and outside the recorder's lock.
#pragma once

#include <cstdint>

#include "trace/format.h"

namespace oomtrace::interpose {

void probe_device_memory(int device, trace::FailureContext& failure);
void probe_processes(int device, trace::FailureContext& failure);
// The device's total and free memory from NVML, which needs no context:
// for a device the process uses without an active primary context.
bool probe_device_memory_through_nvml(int device, uint64_t& total, uint64_t& free);
// Stream-ordered failures: the pool's reserved and used bytes. `pool` is the
// pool the call named (a CUmemoryPool), or 0 for the device's current pool.
void probe_pool(int device, uint64_t pool, trace::FailureContext& failure);

// Name, capacity and PCI bus id, asked once per device.
trace::DeviceInfo describe_device(int device);

}  // namespace oomtrace::interpose
