// Why an allocation failed, decided from the figures at the instant of the
// failure, and said in words with the numbers that prove it.
//
// The figures: R requested, T the device's total, F its free memory, P what
// the process held (process_reserved_bytes: its segments; for PyTorch its
// reserved memory), A what the framework had allocated inside P, U = P - A
// its cached but unallocated memory, L the largest free block in that
// cache, O the memory outside the process, C a cap (FailureReport::cap).
// "The device had room" means F >= R + 64 MiB: a free figure barely above
// the request proves nothing, since the driver hands out whole pages and
// keeps some memory for itself.
//
// The rules, in order; the first that holds decides:
//  1. exceeds_capacity: R > T, or R >= 1 EiB whatever T is (no device holds
//     that much: the size itself is garbage).
//  2. limit: C is known and the request is over it (R > C for a cap on one
//     allocation; else P + R > C - 1%, since printed figures are rounded to
//     0.5%), and the cap, not the device, refused: the failing allocator
//     stated the cap, or the failure is a framework's message (no CUDA call
//     failed) and F is unknown or the device had room. A cap known only from
//     the settings never decides a failed CUDA call: a cap makes the
//     framework refuse before it calls CUDA, so that call met the device.
//  3. fragmentation: A is known, U >= R, and either L is known and L < R, or
//     L is unknown, the device had no room for a new segment and R > 2 MiB.
//     A framework that fails has first given back its wholly free segments
//     (PyTorch does), so U is free memory in segments that also hold live
//     blocks; no block of it took the request, so it is in pieces too small.
//     PyTorch serves requests of 1 MiB or less from 2 MiB segments of a
//     separate small pool, and its message then asks for 2.00 MiB; U counts
//     both pools, so it cannot show whether the small one had room.
//  4. none when T or F is unknown.
//  5. none when the device had room: the figures do not show why the
//     allocation failed (a cap that was not printed, memory released
//     between the failure and the measurement, the host's memory).
//  6. other_processes: O > P and R <= T - P: without the memory held outside
//     the process the request would have fit.
//  7. exhausted: otherwise; the process's own memory filled the device.
#pragma once

#include <optional>
#include <string>

#include "report/verdicts/allocator_settings.h"
#include "report/verdicts/report.h"

namespace oomtrace::report {

// Below this much headroom over the request the device counts as full.
inline constexpr uint64_t kDriverSlackBytes = 64ull << 20;
// No device holds this much; a request this large is a corrupt size.
inline constexpr uint64_t kNoDeviceHoldsBytes = 1ull << 60;

std::optional<Verdict> decide_verdict(const FailureReport& failure);

// total - free - held, at least 0, without wrapping on odd figures: the
// memory outside the process.
uint64_t memory_outside(uint64_t total, uint64_t free, uint64_t held);

// F >= R + kDriverSlackBytes; false when F is unknown.
bool device_had_room(const FailureReport& failure);

// U = P - A when A is known and no larger than P.
std::optional<uint64_t> cached_unallocated(const FailureReport& failure);

// One paragraph for the failure's verdict (which must already be decided),
// without the sentence about recovery.
std::string explain_cause(const FailureReport& failure);

// explain_cause, plus whether the process got past the failure when the
// figures come from a trace.
std::string explain(const FailureReport& failure);

// Fills verdict, explanation and suggestions of a failure whose figures are
// set; a cap from the settings is attached when the failure has none.
void judge(FailureReport& failure, const AllocatorSettings& settings);

}  // namespace oomtrace::report
