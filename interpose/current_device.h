// Which device an allocation lands on, without a CUDA call per allocation:
// each thread caches its current device, and every hooked call that can
// change it (cudaSetDevice, cuCtxSetCurrent, push/pop, create/destroy) drops
// the cache. Only the first allocation after such a change asks the driver.
#pragma once

namespace oomtrace::interpose {

void forget_current_device();
// The device of the calling thread's current context; 0 when the driver
// cannot say (the runtime's default device).
int current_device();
// After fork the child's thread keeps the parent's cache; drop it.
void reset_current_device_after_fork();

}  // namespace oomtrace::interpose
