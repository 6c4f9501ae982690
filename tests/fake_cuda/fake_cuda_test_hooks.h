// Test-only entry points exported by the fake CUDA driver (libcuda.so.1).
// The real driver has none of these; production code must never call them.
#pragma once

#include <cstddef>

extern "C" {

// Bytes this process holds on `device`, rounded to the 2 MiB capacity
// granularity: live cuMemAlloc* memory, stream-ordered pool reservations
// (including cached free blocks) and device-located cuMemCreate memory that
// has not been given back. Excludes the context overhead. 0 for a bad device.
std::size_t fake_cuda_process_used_bytes(int device);

// FAKE_CUDA_CONTEXT_MIB (in bytes) once this process has used its context on
// `device`, 0 before that. The fake NVML adds it to the process's usage, as
// the real NVML reports context memory as part of a process's footprint.
std::size_t fake_cuda_process_context_bytes(int device);

// Re-reads the FAKE_CUDA_* environment and drops all driver state: device
// memory, pools, streams, VMM reservations and handles, host and managed
// memory (unmapped), context reference counts and every thread's context
// stack. Context handles stay valid pointers (they are static), but all other
// handles and pointers from before the reset become invalid.
void fake_cuda_reset_for_tests(void);

}  // extern "C"
