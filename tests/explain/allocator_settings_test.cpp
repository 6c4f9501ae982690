// The settings a process ran with, so suggestions never repeat them.
#include <catch2/catch.hpp>

#include "report/verdicts/allocator_settings.h"

using namespace oomtrace::report;

namespace {
constexpr uint64_t kGiB = 1ull << 30;
}

TEST_CASE("PyTorch's allocator configuration, under each of its names", "[settings]") {
  AllocatorSettings s = read_allocator_settings(
      {{"PYTORCH_ALLOC_CONF", "max_split_size_mb:128, garbage_collection_threshold:0.6"},
       {"PYTORCH_HIP_ALLOC_CONF", "expandable_segments:True"}});
  CHECK(s.max_split_size_bytes == 128u << 20);
  CHECK(s.garbage_collection_threshold == Approx(0.6));
  CHECK(s.expandable_segments);
  CHECK(s.conf_key == "PYTORCH_HIP_ALLOC_CONF");  // the last name seen, unless the classic one is set
  CHECK(read_allocator_settings({{"PYTORCH_CUDA_ALLOC_CONF", "x:1"}, {"PYTORCH_ALLOC_CONF", "y:2"}}).conf_key ==
        "PYTORCH_CUDA_ALLOC_CONF");
  CHECK(read_allocator_settings({{"PYTORCH_CUDA_ALLOC_CONF", "backend:cudaMallocAsync"}}).async_backend);
  CHECK(with_option(read_allocator_settings({}), "expandable_segments:True") ==
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True");
}

TEST_CASE("TensorFlow, JAX and CuPy settings", "[settings]") {
  AllocatorSettings s = read_allocator_settings({{"TF_GPU_ALLOCATOR", "cuda_malloc_async"},
                                                 {"TF_FORCE_GPU_ALLOW_GROWTH", "true"},
                                                 {"XLA_PYTHON_CLIENT_PREALLOCATE", "false"},
                                                 {"XLA_PYTHON_CLIENT_MEM_FRACTION", ".5"},
                                                 {"CUPY_GPU_MEMORY_LIMIT", "50%"},
                                                 {"CUDA_VISIBLE_DEVICES", "1"}});
  CHECK(s.tf_gpu_allocator == std::string("cuda_malloc_async"));
  CHECK(s.tf_allow_growth);
  CHECK(s.xla_preallocate == false);
  CHECK(s.xla_mem_fraction == Approx(0.5));
  CHECK(s.cupy_memory_limit == std::string("50%"));
  CHECK(s.cuda_visible_devices == std::string("1"));
}

TEST_CASE("caps the settings put on a device", "[settings]") {
  AllocatorSettings cupy = read_allocator_settings({{"CUPY_GPU_MEMORY_LIMIT", "25%"}});
  auto cap = settings_cap(cupy, 16 * kGiB);
  REQUIRE(cap);
  CHECK(cap->kind == CapKind::CuPyPoolLimit);
  CHECK(cap->bytes == 4 * kGiB);
  CHECK_FALSE(cap->stated_by_failure);
  CHECK_FALSE(settings_cap(cupy, std::nullopt));  // a percentage of an unknown total
  CHECK(settings_cap(read_allocator_settings({{"CUPY_GPU_MEMORY_LIMIT", "1073741824"}}), std::nullopt)->bytes ==
        1 * kGiB);

  AllocatorSettings jax = read_allocator_settings({{"XLA_PYTHON_CLIENT_MEM_FRACTION", "0.75"}});
  CHECK(settings_cap(jax, 16 * kGiB)->bytes == 12 * kGiB);
  jax.xla_allocator = "platform";  // no pool, no share
  CHECK_FALSE(settings_cap(jax, 16 * kGiB));
  CHECK_FALSE(settings_cap(read_allocator_settings({{"XLA_PYTHON_CLIENT_MEM_FRACTION", "1.5"}}), 16 * kGiB));
}

TEST_CASE("a PyTorch snapshot's allocator settings", "[settings]") {
  AllocatorSettings s;
  apply_snapshot_allocator_settings(s, {{"expandable_segments", "True"},
                                        {"max_split_size", "18446744073709551615"},  // unset
                                        {"garbage_collection_threshold", "0"}});
  CHECK(s.expandable_segments);
  CHECK_FALSE(s.max_split_size_bytes);
  CHECK_FALSE(s.garbage_collection_threshold);
  apply_snapshot_allocator_settings(s, {{"max_split_size", "-1"}, {"garbage_collection_threshold", "null"}});
  CHECK_FALSE(s.max_split_size_bytes);  // -1 and null also say "unset"
  CHECK_FALSE(s.garbage_collection_threshold);
  apply_snapshot_allocator_settings(s, {{"max_split_size", "536870912"}, {"garbage_collection_threshold", "0.5"}});
  CHECK(s.max_split_size_bytes == 512u << 20);
  CHECK(s.garbage_collection_threshold == Approx(0.5));
}
