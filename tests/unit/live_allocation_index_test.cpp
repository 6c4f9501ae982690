// The packed, chunked index of live allocations must answer exactly as an
// ordinary ordered map would, whatever the order of inserts and removals.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "allocator/live_allocation_index.h"

using oomtrace::Api;
using oomtrace::LiveAllocation;
using oomtrace::LiveAllocationIndex;

namespace {

LiveAllocation allocation_at(uint64_t address, uint64_t size) {
  LiveAllocation allocation;
  allocation.address = address;
  allocation.size = size;
  allocation.time_ns = address * 3;
  allocation.thread = static_cast<uint32_t>(address % 100000);
  allocation.stack_id = static_cast<uint32_t>(address % 977);
  allocation.device = static_cast<int16_t>(address % 9) - 1;  // the host (-1) and eight GPUs
  allocation.api = Api::cudaMalloc;
  return allocation;
}

bool same(const LiveAllocation& a, const LiveAllocation& b) {
  return a.address == b.address && a.size == b.size && a.time_ns == b.time_ns && a.thread == b.thread &&
         a.stack_id == b.stack_id && a.device == b.device && a.api == b.api;
}

void check_equal(const LiveAllocationIndex& index, const std::map<uint64_t, LiveAllocation>& expected) {
  REQUIRE(index.size() == expected.size());
  auto next = expected.begin();
  bool all_same = true;
  index.for_each([&](const LiveAllocation& allocation) {
    all_same = all_same && next != expected.end() && same(allocation, next->second);
    ++next;
  });
  CHECK(all_same);
}

}  // namespace

TEST_CASE("every field survives packing, including the host device and large figures", "[live_index]") {
  LiveAllocationIndex index;
  LiveAllocation big = allocation_at(0x7f0000000000, (uint64_t{1} << 47) + 12345);
  big.time_ns = uint64_t{30} * 24 * 3600 * 1000000000;  // thirty days
  big.thread = 4194303;
  big.stack_id = 0xfffffffe;
  big.device = -1;
  big.api = Api::cuMemCreate;
  index.insert_or_assign(big);
  REQUIRE(index.find(big.address));
  CHECK(same(*index.find(big.address), big));
}

TEST_CASE("a size beyond any address space is clamped, never wrapped", "[live_index]") {
  LiveAllocationIndex index;
  index.insert_or_assign(allocation_at(4096, UINT64_MAX));
  CHECK(index.find(4096)->size == oomtrace::kMaxLiveAllocationSize);
}

TEST_CASE("rising addresses fill whole chunks", "[live_index]") {
  LiveAllocationIndex index;
  for (uint64_t i = 0; i < 64 * 1000; ++i) index.insert_or_assign(allocation_at(0x100000 + i * 4096, 4096));
  // 32-byte records, chunks full: little beyond 32 bytes per allocation.
  CHECK(index.memory_bytes() / index.size() < 36);
}

TEST_CASE("random inserts, removals and lookups agree with an ordered map", "[live_index]") {
  std::mt19937_64 random(42);
  LiveAllocationIndex index;
  std::map<uint64_t, LiveAllocation> expected;
  for (int step = 0; step < 200000; ++step) {
    uint64_t address = (random() % 50000) * 512;
    switch (random() % 6) {
      case 0:
      case 1:
      case 2: {
        LiveAllocation allocation = allocation_at(address, 512 + random() % 4096);
        index.insert_or_assign(allocation);
        expected[address] = allocation;
        break;
      }
      case 3: {
        std::optional<LiveAllocation> taken = index.take(address);
        auto found = expected.find(address);
        REQUIRE(taken.has_value() == (found != expected.end()));
        if (taken) {
          REQUIRE(same(*taken, found->second));
          expected.erase(found);
        }
        break;
      }
      case 4: {
        std::optional<LiveAllocation> below = index.last_at_or_below(address);
        auto after = expected.upper_bound(address);
        REQUIRE(below.has_value() == (after != expected.begin()));
        if (below) REQUIRE(same(*below, std::prev(after)->second));
        break;
      }
      case 5: {
        uint64_t end = address + (random() % 8) * 512;
        std::vector<uint64_t> removed;
        index.take_range(address, end, [&](const LiveAllocation& a) { removed.push_back(a.address); });
        std::vector<uint64_t> wanted;
        for (auto it = expected.lower_bound(address); it != expected.end() && it->first < end;) {
          wanted.push_back(it->first);
          it = expected.erase(it);
        }
        REQUIRE(removed == wanted);
        break;
      }
    }
  }
  check_equal(index, expected);
  // Emptied completely, then refilled: nothing left behind.
  for (const auto& [address, allocation] : expected) REQUIRE(index.take(address));
  CHECK(index.empty());
  CHECK(index.memory_bytes() <= LiveAllocationIndex::kChunkEntries * 32 + 128);  // one chunk kept for reuse
  index.insert_or_assign(allocation_at(512, 512));
  CHECK(index.find(512));
}
