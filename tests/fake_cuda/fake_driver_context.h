// Contexts of the fake driver: one primary context per device and a
// per-thread context stack, as in the real driver. User-created contexts
// (cuCtxCreate) are not simulated.
#pragma once

#include "fake_driver_state.h"

namespace fake_cuda {

// The primary context handle of `device` (stable for the life of the process,
// even across fake_cuda_reset_for_tests).
CUcontext primary_context(int device);

// Device of a context handle, or -1 when it is not a primary context of one
// of the configured devices.
int device_of_context(const DriverState& state, CUcontext context);

// The context on top of the calling thread's stack, or nullptr.
CUcontext current_context();

// The device that memory operations of the calling thread act on: the
// current context's device, or, leniently, device 0 when the thread has no
// context (so that code which never set one, like a bare runtime, still
// works). Marks that device's context as used, which charges its overhead.
// Returns -1 when there is no device at all.
int device_for_work(DriverState& state);

// Device that work on `stream` runs on: the special streams (null,
// CU_STREAM_LEGACY, CU_STREAM_PER_THREAD) mean the calling thread's device as
// in device_for_work; a created stream means the device it was created on.
// Fails with CUDA_ERROR_INVALID_HANDLE for unknown streams and
// CUDA_ERROR_INVALID_CONTEXT when there is no device.
CUresult device_for_stream(DriverState& state, CUstream stream, int* device);

}  // namespace fake_cuda
