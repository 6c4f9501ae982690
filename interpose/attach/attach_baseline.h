// What the process held when `oomtrace attach` joined it. Its allocations
// before that instant were never seen, so they are a baseline of unknown
// origin: the device's used and free memory where the process has a
// context, and NVML's figure for the process.
#pragma once

#include <cstdint>
#include <vector>

#include "trace/format.h"

namespace oomtrace::interpose {

// `pids`: the process as NVML may name it (its own pid, and its pid in the
// outer namespace when it runs in a container: NVML reports host pids).
// Never creates a context: a device whose primary context is not active is
// measured through NVML alone.
std::vector<trace::AttachBaseline> measure_attach_baseline(const std::vector<uint32_t>& pids);

}  // namespace oomtrace::interpose
