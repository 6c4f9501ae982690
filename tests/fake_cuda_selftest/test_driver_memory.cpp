// Fake driver: capacity accounting, OOM, deterministic addresses, other
// processes' memory, legacy/pitched/managed/host allocations, thread safety.
#include <catch2/catch.hpp>

#include <cstring>
#include <thread>
#include <vector>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

TEST_CASE("free memory drops by allocations rounded to 2 MiB", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  std::size_t free = 0, total = 0;
  REQUIRE(cuMemGetInfo(&free, &total) == CUDA_SUCCESS);
  CHECK(total == 64 * kMiB);
  CHECK(free == 64 * kMiB);

  CUdeviceptr small = 0, medium = 0;
  REQUIRE(cuMemAlloc(&small, 1) == CUDA_SUCCESS);
  CHECK(free_bytes() == 62 * kMiB);
  REQUIRE(cuMemAlloc(&medium, 2 * kMiB + 1) == CUDA_SUCCESS);
  CHECK(free_bytes() == 58 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 6 * kMiB);

  CHECK(cuMemFree(small) == CUDA_SUCCESS);
  CHECK(cuMemFree(medium) == CUDA_SUCCESS);
  CHECK(free_bytes() == 64 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
}

TEST_CASE("an allocation that does not fit fails and leaves the pointer alone", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr everything = 0;
  REQUIRE(cuMemAlloc(&everything, 63 * kMiB + 1) == CUDA_SUCCESS);  // rounds to exactly 64 MiB
  CHECK(free_bytes() == 0);

  CUdeviceptr untouched = 0xDEADBEEF;
  CHECK(cuMemAlloc(&untouched, 1) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(untouched == 0xDEADBEEF);

  REQUIRE(cuMemFree(everything) == CUDA_SUCCESS);
  CHECK(cuMemAlloc(&untouched, 65 * kMiB) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(cuMemAlloc(&untouched, SIZE_MAX) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(untouched == 0xDEADBEEF);
  CHECK(cuMemAlloc(&untouched, 0) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemAlloc(nullptr, kMiB) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("cuMemGetInfo rejects null outputs", "[driver]") {
  FakeMachine machine;
  std::size_t value = 0;
  CHECK(cuMemGetInfo(nullptr, &value) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemGetInfo(&value, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("cuMemFree accepts 0 and rejects unknown pointers", "[driver]") {
  FakeMachine machine;
  CHECK(cuMemFree(0) == CUDA_SUCCESS);
  CHECK(cuMemFree(0x1234) == CUDA_ERROR_INVALID_VALUE);
  CUdeviceptr pointer = 0;
  REQUIRE(cuMemAlloc(&pointer, kMiB) == CUDA_SUCCESS);
  CHECK(cuMemFree(pointer + 16) == CUDA_ERROR_INVALID_VALUE);  // interior pointers are not allocations
  CHECK(cuMemFree(pointer) == CUDA_SUCCESS);
  CHECK(cuMemFree(pointer) == CUDA_ERROR_INVALID_VALUE);  // double free
}

namespace {

// A fixed mix of allocations and frees; returns every address handed out.
std::vector<CUdeviceptr> run_allocation_sequence() {
  std::vector<CUdeviceptr> addresses;
  auto allocate = [&](std::size_t bytes) {
    CUdeviceptr pointer = 0;
    cuMemAlloc(&pointer, bytes);
    addresses.push_back(pointer);
    return pointer;
  };
  const CUdeviceptr a = allocate(2 * kMiB);
  const CUdeviceptr b = allocate(4 * kMiB);
  allocate(2 * kMiB);
  cuMemFree(b);
  allocate(kMiB);
  allocate(3 * kMiB);
  cuMemFree(a);
  allocate(10 * kMiB);
  allocate(2 * kMiB);
  return addresses;
}

}  // namespace

TEST_CASE("addresses are aligned, first-fit, and identical on every run", "[driver]") {
  std::vector<CUdeviceptr> first;
  {
    FakeMachine machine;
    first = run_allocation_sequence();
  }
  const CUdeviceptr base = device_base(0);
  // a, b, c laid out back to back; the 1 MiB request reuses the front of b's
  // 4 MiB hole, 3 MiB (rounded to 4) no longer fits there and goes to the
  // end, 10 MiB goes to the end, and the last 2 MiB fills a's hole.
  const std::vector<CUdeviceptr> expected = {base,
                                             base + 2 * kMiB,
                                             base + 6 * kMiB,
                                             base + 2 * kMiB,
                                             base + 8 * kMiB,
                                             base + 12 * kMiB,
                                             base};
  CHECK(first == expected);
  for (CUdeviceptr address : first) CHECK(address % (2 * kMiB) == 0);

  FakeMachine again;
  CHECK(run_allocation_sequence() == first);
}

TEST_CASE("memory held by other processes lowers free memory", "[driver]") {
  SECTION("one value applies to every device") {
    FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "16384"}, {"FAKE_CUDA_OTHER_MIB", "4096"}});
    CHECK(free_bytes() == 12288 * kMiB);
    CUdeviceptr pointer = 0;
    REQUIRE(cuMemAlloc(&pointer, 12288 * kMiB) == CUDA_SUCCESS);
    CUdeviceptr untouched = 0;
    CHECK(cuMemAlloc(&untouched, 1) == CUDA_ERROR_OUT_OF_MEMORY);
  }
  SECTION("a list gives one value per device") {
    FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}, {"FAKE_CUDA_OTHER_MIB", "0,4096"}});
    CHECK(free_bytes() == 16384 * kMiB);
    REQUIRE(cuCtxSetCurrent(primary_context(1)) == CUDA_SUCCESS);
    CHECK(free_bytes() == 12288 * kMiB);
    cuCtxSetCurrent(nullptr);
  }
  SECTION("more than the device holds leaves nothing free") {
    FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "1024"}, {"FAKE_CUDA_OTHER_MIB", "2048"}});
    CHECK(free_bytes() == 0);
  }
}

TEST_CASE("legacy 32-bit cuMemAlloc and cuMemFree", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  auto legacy_alloc = driver_function<PfnLegacyMemAlloc>("cuMemAlloc");
  auto legacy_free = driver_function<PfnLegacyMemFree>("cuMemFree");
  REQUIRE(legacy_alloc != nullptr);
  REQUIRE(legacy_free != nullptr);

  LegacyDevicePtr pointer = 0;
  REQUIRE(legacy_alloc(&pointer, 3 * kMiB) == CUDA_SUCCESS);
  CHECK(pointer != 0);
  CHECK(pointer % (2 * kMiB) == 0);
  CHECK(free_bytes() == 60 * kMiB);
  CHECK(legacy_free(pointer) == CUDA_SUCCESS);
  CHECK(free_bytes() == 64 * kMiB);

  REQUIRE(legacy_alloc(&pointer, kMiB) == CUDA_SUCCESS);
  CHECK(cuMemFree(pointer) == CUDA_SUCCESS);  // the _v2 free knows legacy pointers too
}

TEST_CASE("pitched allocations round the pitch up to 512 bytes", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr pointer = 0;
  std::size_t pitch = 0;
  REQUIRE(cuMemAllocPitch(&pointer, &pitch, 1000, 3000, 4) == CUDA_SUCCESS);
  CHECK(pitch == 1024);
  CHECK(fake_cuda_process_used_bytes(0) == 4 * kMiB);  // 1024 * 3000 bytes, rounded
  CHECK(cuMemFree(pointer) == CUDA_SUCCESS);

  CHECK(cuMemAllocPitch(&pointer, &pitch, 512, 1, 4) == CUDA_SUCCESS);
  CHECK(pitch == 512);
  CHECK(cuMemAllocPitch(&pointer, &pitch, 100, 10, 3) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemAllocPitch(&pointer, &pitch, 0, 10, 4) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("managed and pinned host memory are real host memory outside device capacity", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr managed = 0;
  REQUIRE(cuMemAllocManaged(&managed, 100 * kMiB, CU_MEM_ATTACH_GLOBAL) == CUDA_SUCCESS);
  std::memset(reinterpret_cast<void*>(managed), 0xAB, 100 * kMiB);
  CHECK(free_bytes() == 64 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(cuMemAllocManaged(&managed, kMiB, 0) == CUDA_ERROR_INVALID_VALUE);

  void* pinned = nullptr;
  void* portable = nullptr;
  REQUIRE(cuMemAllocHost(&pinned, kMiB) == CUDA_SUCCESS);
  REQUIRE(cuMemHostAlloc(&portable, kMiB, CU_MEMHOSTALLOC_PORTABLE) == CUDA_SUCCESS);
  std::memset(pinned, 1, kMiB);
  std::memset(portable, 2, kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 0);

  CHECK(cuMemFreeHost(reinterpret_cast<void*>(managed)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemFree(reinterpret_cast<CUdeviceptr>(pinned)) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemFree(managed) == CUDA_SUCCESS);
  CHECK(cuMemFreeHost(pinned) == CUDA_SUCCESS);
  CHECK(cuMemFreeHost(portable) == CUDA_SUCCESS);
  CHECK(cuMemFreeHost(pinned) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("concurrent allocations keep the books balanced", "[driver]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "1024"}});
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (std::size_t index = 0; index < failures.size(); ++index) {
    threads.emplace_back([&failures, index] {
      for (int round = 0; round < 200; ++round) {
        CUdeviceptr pointer = 0;
        if (cuMemAlloc(&pointer, (round % 5 + 1) * kMiB) != CUDA_SUCCESS || cuMemFree(pointer) != CUDA_SUCCESS) {
          ++failures[index];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(4, 0));
  CHECK(fake_cuda_process_used_bytes(0) == 0);
  CHECK(free_bytes() == 1024 * kMiB);
}
