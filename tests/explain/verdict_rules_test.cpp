// The verdict rules of report/verdict.h, one boundary at a time.
#include <catch2/catch.hpp>

#include "report/verdicts/verdict.h"

using namespace oomtrace::report;
using Catch::Contains;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// 16 GiB device; the process holds 14 GiB, 1 GiB is outside, 1 GiB free.
FailureReport full_device(uint64_t request) {
  FailureReport f;
  f.requested_bytes = request;
  f.device_total_bytes = 16 * kGiB;
  f.device_free_bytes = 1 * kGiB;
  f.process_reserved_bytes = 14 * kGiB;
  f.other_bytes = 1 * kGiB;
  return f;
}

}  // namespace

TEST_CASE("exceeds_capacity: larger than the device, or than any device", "[verdict]") {
  FailureReport f = full_device(17 * kGiB);
  CHECK(decide_verdict(f) == Verdict::ExceedsCapacity);
  FailureReport unknown_device;
  unknown_device.requested_bytes = kNoDeviceHoldsBytes;
  CHECK(decide_verdict(unknown_device) == Verdict::ExceedsCapacity);
  unknown_device.requested_bytes = kNoDeviceHoldsBytes - 1;
  CHECK_FALSE(decide_verdict(unknown_device));
}

TEST_CASE("limit: a cap the failing allocator stated, passed by held + request", "[verdict]") {
  FailureReport f = full_device(2 * kGiB);
  f.device_free_bytes = 10 * kGiB;
  f.process_reserved_bytes = 3 * kGiB;
  f.cap = MemoryCap{CapKind::PyTorchMemoryFraction, 4 * kGiB, true};
  CHECK(decide_verdict(f) == Verdict::Limit);
  f.verdict = Verdict::Limit;
  CHECK_THAT(explain(f), Contains("capped the process at 4.00 GiB") && Contains("10.00 GiB was free"));

  // Printed figures are rounded: within 1% of the cap counts as over it.
  f.requested_bytes = 1 * kGiB - 40 * kMiB;
  CHECK(decide_verdict(f) == Verdict::Limit);
  f.requested_bytes = 512 * kMiB;  // well under the cap: the cap did not refuse
  CHECK(decide_verdict(f) != Verdict::Limit);
}

TEST_CASE("limit: a cap from the settings never decides a failed CUDA call", "[verdict]") {
  FailureReport f = full_device(2 * kGiB);
  f.cap = MemoryCap{CapKind::XlaMemoryFraction, 8 * kGiB, false};
  CHECK(decide_verdict(f) == Verdict::Exhausted);  // the device refused
  f.from_message = true;                           // the framework refused, F unknown
  f.device_free_bytes.reset();
  CHECK(decide_verdict(f) == Verdict::Limit);
}

TEST_CASE("limit: one allocation over a platform's block limit", "[verdict]") {
  FailureReport f;
  f.requested_bytes = 5 * kGiB;
  f.device_total_bytes = 16 * kGiB;
  f.cap = MemoryCap{CapKind::PlatformBlockLimit, 4 * kGiB, true};
  CHECK(decide_verdict(f) == Verdict::Limit);
  f.requested_bytes = 3 * kGiB;
  CHECK_FALSE(decide_verdict(f));  // free unknown: nothing else to decide on
}

TEST_CASE("fragmentation from a message's figures: cached-free covers the request, the device does not",
          "[verdict]") {
  FailureReport f = full_device(2 * kGiB);
  f.from_message = true;
  f.process_allocated_bytes = 11 * kGiB;  // 3 GiB cached but unallocated
  CHECK(decide_verdict(f) == Verdict::Fragmentation);
  f.verdict = Verdict::Fragmentation;
  CHECK_THAT(explain(f), Contains("3.00 GiB sat free") && Contains("no free block"));

  f.process_allocated_bytes = 13 * kGiB;  // 1 GiB cached: not enough for 2 GiB
  CHECK(decide_verdict(f) == Verdict::Exhausted);

  // PyTorch's 2 MiB small-pool segment: the cached figure mixes both pools.
  FailureReport small = full_device(2 * kMiB);
  small.device_free_bytes = 0;
  small.process_allocated_bytes = 11 * kGiB;
  CHECK(decide_verdict(small) == Verdict::Exhausted);
}

TEST_CASE("the device had room: no verdict, and the explanation says so", "[verdict]") {
  FailureReport f = full_device(1 * kGiB - 64 * kMiB);  // free exactly request + 64 MiB
  CHECK_FALSE(decide_verdict(f));
  CHECK(device_had_room(f));
  f.explanation = explain(f);
  CHECK_THAT(f.explanation, Contains("not full"));
  f.requested_bytes += 1;  // a byte less headroom: full
  CHECK(decide_verdict(f) == Verdict::Exhausted);
}

TEST_CASE("other_processes and exhausted", "[verdict]") {
  FailureReport f = full_device(2 * kGiB);
  CHECK(decide_verdict(f) == Verdict::Exhausted);
  f.process_reserved_bytes = 2 * kGiB;
  f.other_bytes = 13 * kGiB;
  CHECK(decide_verdict(f) == Verdict::OtherProcesses);
}

TEST_CASE("memory outside never wraps", "[verdict]") {
  CHECK(memory_outside(16 * kGiB, 1 * kGiB, 14 * kGiB) == 1 * kGiB);
  CHECK(memory_outside(8 * kGiB, 9 * kGiB, 0) == 0u);   // free above total
  CHECK(memory_outside(8 * kGiB, 0, 20 * kGiB) == 0u);  // held above total
}

TEST_CASE("a message's explanation has no sentence about recovery", "[verdict]") {
  FailureReport f = full_device(2 * kGiB);
  f.verdict = decide_verdict(f);
  CHECK_THAT(explain(f), Contains("likely what stopped the process"));
  f.from_message = true;
  CHECK_THAT(explain(f), !Contains("stopped the process"));
  CHECK_THAT(explain(f), Contains("the request for 2.00 GiB"));  // no CUDA call named
}
