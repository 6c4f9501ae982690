// A model on a simulated device, for the policy tests.
#pragma once

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "allocator/caching_allocator/caching_allocator.h"
#include "allocator/caching_allocator/simulated_device.h"

namespace oomtrace::test {

inline constexpr uint64_t MiB = caching::kMiB;

inline caching::AllocatorConfig settings(const std::string& conf) {
  caching::ConfigParse parsed = caching::parse_alloc_conf(conf, {}, caching::ExtraKeys::Accept);
  INFO(parsed.error);
  REQUIRE(parsed.config);
  return *parsed.config;
}

struct Model {
  explicit Model(const std::string& conf = "", uint64_t capacity = caching::SimulatedDevice::kUnlimited)
      : device(capacity), allocator(settings(conf), device) {}

  // An allocation that must succeed.
  caching::Allocation take(uint64_t size, uint64_t stream = 0) {
    std::optional<caching::Allocation> allocation = allocator.allocate(size, stream);
    REQUIRE(allocation);
    return *allocation;
  }
  void give_back(const caching::Allocation& allocation) { REQUIRE(allocator.free(allocation.address)); }
  const caching::AllocatorStats& stats() const { return allocator.stats(); }

  caching::SimulatedDevice device;
  caching::CachingAllocator allocator;
};

}  // namespace oomtrace::test
