// Fake driver: stream-ordered allocation and memory pools.
#include <catch2/catch.hpp>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

namespace {

cuuint64_t pool_attribute(CUmemoryPool pool, CUmemPool_attribute attribute) {
  cuuint64_t value = ~cuuint64_t{0};
  REQUIRE(cuMemPoolGetAttribute(pool, attribute, &value) == CUDA_SUCCESS);
  return value;
}

cuuint64_t reserved(CUmemoryPool pool) { return pool_attribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT); }
cuuint64_t used(CUmemoryPool pool) { return pool_attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT); }

void set_release_threshold(CUmemoryPool pool, cuuint64_t bytes) {
  REQUIRE(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &bytes) == CUDA_SUCCESS);
}

CUmemoryPool default_pool() {
  CUmemoryPool pool = nullptr;
  REQUIRE(cuDeviceGetDefaultMemPool(&pool, 0) == CUDA_SUCCESS);
  return pool;
}

CUmemPoolProps device_pool_props(int device) {
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = device;
  return props;
}

}  // namespace

TEST_CASE("the default pool releases freed memory at threshold 0", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  const CUmemoryPool pool = default_pool();
  CUmemoryPool current = nullptr;
  CHECK(cuDeviceGetMemPool(&current, 0) == CUDA_SUCCESS);
  CHECK(current == pool);
  CHECK(pool_attribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD) == 0);

  CUdeviceptr pointer = 0;
  REQUIRE(cuMemAllocAsync(&pointer, 3 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 4 * kMiB);
  CHECK(used(pool) == 4 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 4 * kMiB);
  CHECK(free_bytes() == 60 * kMiB);

  REQUIRE(cuMemFreeAsync(pointer, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 0);
  CHECK(used(pool) == 0);
  CHECK(pool_attribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) == 4 * kMiB);
  CHECK(pool_attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 4 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 0);

  cuuint64_t zero = 0, nonzero = 1;
  CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &nonzero) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH, &zero) == CUDA_SUCCESS);
  CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &zero) == CUDA_SUCCESS);
  CHECK(pool_attribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) == 0);
  CHECK(pool_attribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 0);
  CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &zero) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("a pool caches freed blocks up to its release threshold", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  const CUmemoryPool pool = default_pool();
  set_release_threshold(pool, 8 * kMiB);

  CUdeviceptr first = 0, second = 0, third = 0;
  REQUIRE(cuMemAllocAsync(&first, 4 * kMiB, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemAllocAsync(&second, 4 * kMiB, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemAllocAsync(&third, 4 * kMiB, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(first, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(second, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(third, nullptr) == CUDA_SUCCESS);
  // 12 MiB were reserved; the lowest block is released to get back to 8.
  CHECK(reserved(pool) == 8 * kMiB);
  CHECK(used(pool) == 0);
  CHECK(fake_cuda_process_used_bytes(0) == 8 * kMiB);  // cached memory still counts for the process

  CUdeviceptr reused = 0;
  REQUIRE(cuMemAllocAsync(&reused, 2 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(reused == second);  // best fit, lowest address first
  CHECK(reserved(pool) == 8 * kMiB);
  CHECK(used(pool) == 2 * kMiB);

  REQUIRE(cuMemPoolTrimTo(pool, 0) == CUDA_SUCCESS);  // only unused blocks can go
  CHECK(reserved(pool) == 4 * kMiB);
  REQUIRE(cuMemFree(reused) == CUDA_SUCCESS);  // cuMemFree also returns pool blocks
  CHECK(used(pool) == 0);

  set_release_threshold(pool, 0);  // lowering the threshold trims at once
  CHECK(reserved(pool) == 0);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
}

TEST_CASE("a pool trims its own cache before reporting out-of-memory", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "16"}});
  const CUmemoryPool pool = default_pool();
  set_release_threshold(pool, ~cuuint64_t{0});

  CUdeviceptr cached = 0;
  REQUIRE(cuMemAllocAsync(&cached, 8 * kMiB, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(cached, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 8 * kMiB);

  CUdeviceptr bigger = 0;
  REQUIRE(cuMemAllocAsync(&bigger, 10 * kMiB, nullptr) == CUDA_SUCCESS);  // fits only once the cache is gone
  CHECK(reserved(pool) == 10 * kMiB);

  CUdeviceptr untouched = 0xABCD;
  CHECK(cuMemAllocAsync(&untouched, 8 * kMiB, nullptr) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(untouched == 0xABCD);
  CHECK(cuMemFreeAsync(bigger, nullptr) == CUDA_SUCCESS);
}

TEST_CASE("explicit pools: create, allocate, destroy", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUmemPoolProps props = device_pool_props(0);
  CUmemoryPool pool = nullptr;
  REQUIRE(cuMemPoolCreate(&pool, &props) == CUDA_SUCCESS);
  CHECK(pool != default_pool());

  CUstream stream = nullptr;
  REQUIRE(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING) == CUDA_SUCCESS);
  CUdeviceptr pointer = 0;
  REQUIRE(cuMemAllocFromPoolAsync(&pointer, kMiB, pool, stream) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 2 * kMiB);
  CHECK(reserved(default_pool()) == 0);

  // Destroying with a block outstanding succeeds; the handle dies at once,
  // the memory when the block is freed.
  CHECK(cuMemPoolDestroy(pool) == CUDA_SUCCESS);
  cuuint64_t value = 0;
  CHECK(cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &value) == CUDA_ERROR_INVALID_VALUE);
  CHECK(fake_cuda_process_used_bytes(0) == 2 * kMiB);
  CHECK(cuMemFreeAsync(pointer, stream) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 0);

  CHECK(cuStreamSynchronize(stream) == CUDA_SUCCESS);
  CHECK(cuStreamDestroy(stream) == CUDA_SUCCESS);
  CHECK(cuMemPoolDestroy(default_pool()) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("pool creation and allocation arguments are validated", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUmemPoolProps props = device_pool_props(3);
  CUmemoryPool pool = nullptr;
  CHECK(cuMemPoolCreate(&pool, &props) == CUDA_ERROR_INVALID_VALUE);
  props = device_pool_props(0);
  props.location.type = CU_MEM_LOCATION_TYPE_HOST;
  CHECK(cuMemPoolCreate(&pool, &props) == CUDA_ERROR_NOT_SUPPORTED);

  props = device_pool_props(0);
  props.maxSize = 4 * kMiB;
  REQUIRE(cuMemPoolCreate(&pool, &props) == CUDA_SUCCESS);
  CUdeviceptr pointer = 0, over = 0;
  REQUIRE(cuMemAllocFromPoolAsync(&pointer, 4 * kMiB, pool, nullptr) == CUDA_SUCCESS);
  CHECK(cuMemAllocFromPoolAsync(&over, kMiB, pool, nullptr) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(cuMemFreeAsync(pointer, nullptr) == CUDA_SUCCESS);
  CHECK(cuMemPoolDestroy(pool) == CUDA_SUCCESS);

  CHECK(cuMemAllocAsync(&pointer, 0, nullptr) == CUDA_ERROR_INVALID_VALUE);
  CHECK(cuMemAllocAsync(&pointer, kMiB, reinterpret_cast<CUstream>(0x9999)) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(cuMemFreeAsync(0x1234, nullptr) == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("per-thread-stream variants behave like the legacy ones", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  void* function = nullptr;
  REQUIRE(cuGetProcAddress("cuMemAllocAsync", &function, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                           nullptr) == CUDA_SUCCESS);
  const auto alloc_ptsz = reinterpret_cast<PFN_cuMemAllocAsync_v11020_ptsz>(function);
  REQUIRE(cuGetProcAddress("cuMemFreeAsync", &function, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
                           nullptr) == CUDA_SUCCESS);
  const auto free_ptsz = reinterpret_cast<PFN_cuMemFreeAsync_v11020_ptsz>(function);

  CUdeviceptr pointer = 0;
  REQUIRE(alloc_ptsz(&pointer, kMiB, CU_STREAM_PER_THREAD) == CUDA_SUCCESS);
  CHECK(reserved(default_pool()) == 2 * kMiB);
  CHECK(free_ptsz(pointer, CU_STREAM_PER_THREAD) == CUDA_SUCCESS);
  CHECK(reserved(default_pool()) == 0);
}

TEST_CASE("cuMemFreeAsync also frees plain allocations", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  CUdeviceptr pointer = 0;
  REQUIRE(cuMemAlloc(&pointer, kMiB) == CUDA_SUCCESS);
  CHECK(cuMemFreeAsync(pointer, nullptr) == CUDA_SUCCESS);
  CHECK(fake_cuda_process_used_bytes(0) == 0);
}

TEST_CASE("a pool grows by whole chunks and carves blocks out of them", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "24"}, {"FAKE_CUDA_POOL_CHUNK_MIB", "16"}});
  const CUmemoryPool pool = default_pool();
  CUdeviceptr first = 0, second = 0, third = 0;
  REQUIRE(cuMemAllocAsync(&first, 2 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 16 * kMiB);
  CHECK(used(pool) == 2 * kMiB);
  CHECK(fake_cuda_process_used_bytes(0) == 16 * kMiB);
  REQUIRE(cuMemAllocAsync(&second, 13 * kMiB, nullptr) == CUDA_SUCCESS);  // 14 MiB: the rest of the chunk
  CHECK(second == first + 2 * kMiB);
  CHECK(reserved(pool) == 16 * kMiB);
  // No room for another 16 MiB chunk: the pool reserves just what is asked.
  REQUIRE(cuMemAllocAsync(&third, 6 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 22 * kMiB);
  CHECK(used(pool) == 22 * kMiB);
  for (CUdeviceptr pointer : {first, second, third}) CHECK(cuMemFreeAsync(pointer, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 0);  // threshold 0: every chunk is unused again
}

TEST_CASE("holes inside chunks still in use stay reserved: the pool fragments", "[pools]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "32"}, {"FAKE_CUDA_POOL_CHUNK_MIB", "16"}});
  const CUmemoryPool pool = default_pool();
  CUdeviceptr blocks[8] = {};
  for (CUdeviceptr& block : blocks) REQUIRE(cuMemAllocAsync(&block, 4 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 32 * kMiB);
  CHECK(free_bytes() == 0);
  for (int i = 0; i < 8; i += 2) REQUIRE(cuMemFreeAsync(blocks[i], nullptr) == CUDA_SUCCESS);
  // Release threshold 0, yet nothing can go: both chunks hold live blocks.
  CHECK(reserved(pool) == 32 * kMiB);
  CHECK(used(pool) == 16 * kMiB);

  CUdeviceptr larger = 0xABCD;
  CHECK(cuMemAllocAsync(&larger, 8 * kMiB, nullptr) == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(larger == 0xABCD);
  CHECK(reserved(pool) == 32 * kMiB);
  REQUIRE(cuMemPoolTrimTo(pool, 0) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 32 * kMiB);

  // A freed block merges with its free neighbours in the chunk.
  REQUIRE(cuMemFreeAsync(blocks[1], nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemAllocAsync(&larger, 12 * kMiB, nullptr) == CUDA_SUCCESS);
  CHECK(larger == blocks[0]);
  CHECK(used(pool) == 24 * kMiB);

  REQUIRE(cuMemFreeAsync(larger, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(blocks[3], nullptr) == CUDA_SUCCESS);  // the first chunk is unused now
  CHECK(reserved(pool) == 16 * kMiB);
  for (int i = 5; i < 8; i += 2) REQUIRE(cuMemFreeAsync(blocks[i], nullptr) == CUDA_SUCCESS);
  CHECK(reserved(pool) == 0);
}
