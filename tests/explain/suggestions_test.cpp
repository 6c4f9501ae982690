// Suggestions: computed from the failure's figures, ranked, never repeating
// a setting the process already ran with.
#include <catch2/catch.hpp>

#include "report/verdicts/suggestions.h"
#include "report/verdicts/verdict.h"

using namespace oomtrace::report;
using Catch::Contains;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

FailureReport judged(FailureReport f, const AllocatorSettings& settings = {}) {
  judge(f, settings);
  return f;
}

FailureReport exhausted(uint64_t request = 2 * kGiB) {
  FailureReport f;
  f.requested_bytes = request;
  f.device_total_bytes = 16 * kGiB;
  f.device_free_bytes = 1 * kGiB;
  f.process_reserved_bytes = 14 * kGiB;
  f.process_allocated_bytes = 13 * kGiB;  // 1 GiB cached: less than the request
  f.other_bytes = 1 * kGiB;
  return f;
}

FailureReport fragmented(uint64_t request = 138 * kMiB) {
  FailureReport f = exhausted(request);
  f.device_free_bytes = 8 * kMiB;
  f.process_allocated_bytes = 14 * kGiB - 410 * kMiB;
  return f;
}

bool has(const FailureReport& f, const std::string& part) {
  for (const Suggestion& s : f.suggestions) {
    if (s.setting.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the batch cut gives the shortfall, live memory and the percentage", "[suggestions]") {
  FailureReport f = judged(exhausted());
  REQUIRE(f.verdict == Verdict::Exhausted);
  REQUIRE_FALSE(f.suggestions.empty());
  CHECK(f.suggestions[0].setting == "reduce the batch size");
  // 1 GiB short; live (allocated) 13 GiB: 7.7%, rounded up.
  CHECK_THAT(f.suggestions[0].reason,
             Contains("the step needs about 1.00 GiB more; live memory is 13.00 GiB; cut the batch by at least 8%"));
}

TEST_CASE("max_split_size_mb from the request", "[suggestions]") {
  FailureReport f;
  f.requested_bytes = 138 * kMiB;
  CHECK(max_split_size_mb_for(f) == 128u);
  f.requested_bytes = 1846835937;  // 1.72 GiB
  CHECK(max_split_size_mb_for(f) == 1024u);
  f.requested_bytes = 40 * kMiB;
  CHECK(max_split_size_mb_for(f) == 32u);
  f.requested_bytes = 31 * kMiB;  // too small for the setting to protect it
  CHECK_FALSE(max_split_size_mb_for(f));
}

TEST_CASE("fragmentation: expandable segments first, then max_split_size, never repeated", "[suggestions]") {
  FailureReport f = judged(fragmented());
  REQUIRE(f.verdict == Verdict::Fragmentation);
  REQUIRE(f.suggestions.size() >= 2);
  CHECK(f.suggestions[0].setting == "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True");
  CHECK(f.suggestions[1].setting == "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:128");

  AllocatorSettings expandable = read_allocator_settings({{"PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"}});
  FailureReport with_expandable = judged(fragmented(), expandable);
  CHECK_FALSE(has(with_expandable, "expandable_segments"));
  CHECK_FALSE(has(with_expandable, "max_split_size_mb"));  // it does not act on expandable segments

  AllocatorSettings split = read_allocator_settings({{"PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:64"}});
  FailureReport with_split = judged(fragmented(), split);
  CHECK_FALSE(has(with_split, "max_split_size_mb:128"));  // a smaller one is already set
  CHECK(has(with_split, "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:64,expandable_segments:True"));
}

TEST_CASE("fragmentation in TensorFlow and JAX names their own allocators", "[suggestions]") {
  FailureReport tf = fragmented();
  tf.framework = "tensorflow";
  CHECK(judged(tf).suggestions.at(0).setting == "TF_GPU_ALLOCATOR=cuda_malloc_async");
  AllocatorSettings async = read_allocator_settings({{"TF_GPU_ALLOCATOR", "cuda_malloc_async"}});
  CHECK_FALSE(has(judged(tf, async), "TF_GPU_ALLOCATOR"));

  FailureReport jax = fragmented();
  jax.framework = "jax";
  CHECK(judged(jax).suggestions.at(0).setting == "XLA_PYTHON_CLIENT_ALLOCATOR=platform");
}

TEST_CASE("a PyTorch memory fraction: the fraction that fits, then the collector", "[suggestions]") {
  FailureReport f = exhausted(2 * kGiB);
  f.device_free_bytes = 10 * kGiB;
  f.process_reserved_bytes = 3 * kGiB;
  f.process_allocated_bytes = 2 * kGiB;
  f.other_bytes = 3 * kGiB;
  f.cap = MemoryCap{CapKind::PyTorchMemoryFraction, 4 * kGiB, true};
  FailureReport judged_f = judged(f);
  REQUIRE(judged_f.verdict == Verdict::Limit);
  CHECK(judged_f.suggestions.at(0).setting == "torch.cuda.set_per_process_memory_fraction(0.32)");  // 5 of 16 GiB
  CHECK(has(judged_f, "reduce the batch size"));
  CHECK(has(judged_f, "garbage_collection_threshold:0.8"));
  AllocatorSettings collector =
      read_allocator_settings({{"PYTORCH_CUDA_ALLOC_CONF", "garbage_collection_threshold:0.6"}});
  CHECK_FALSE(has(judged(f, collector), "garbage_collection_threshold"));
}

TEST_CASE("the garbage collector is suggested only where it can act", "[suggestions]") {
  // Without a memory fraction PyTorch never runs it.
  FailureReport f = judged(exhausted());
  CHECK_FALSE(has(f, "garbage_collection_threshold"));
  f = judged(fragmented());
  CHECK_FALSE(has(f, "garbage_collection_threshold"));
}

TEST_CASE("a CuPy pool limit: the limit that fits", "[suggestions]") {
  FailureReport f;
  f.from_message = true;
  f.framework = "cupy";
  f.requested_bytes = 512 * kMiB;
  f.process_reserved_bytes = 3 * kGiB + 768 * kMiB;
  f.cap = MemoryCap{CapKind::CuPyPoolLimit, 4 * kGiB, true};
  f = judged(f);
  REQUIRE(f.verdict == Verdict::Limit);
  CHECK(f.suggestions.at(0).setting == "CUPY_GPU_MEMORY_LIMIT=" + std::to_string(4 * kGiB + 256 * kMiB));
  CHECK(has(f, "free_all_blocks"));
}

TEST_CASE("the stack says what the memory was for", "[suggestions]") {
  FailureReport backward = exhausted();
  backward.stack = {"c10::cuda::CUDACachingAllocator::malloc+0x10 (libc10_cuda.so)",
                    "torch::autograd::Engine::evaluate_function+0x40 (libtorch_cpu.so)"};
  backward = judged(backward);
  CHECK(has(backward, "activation checkpointing"));
  CHECK(has(backward, "mixed precision"));
  CHECK_FALSE(has(backward, "inference_mode"));

  FailureReport forward = exhausted();
  forward.stack = {"at::native::conv2d+0x10 (libtorch_cpu.so)", "Model::forward+0x20 (libmodel.so)"};
  forward = judged(forward);
  CHECK(has(forward, "torch.inference_mode()"));
  CHECK_FALSE(has(forward, "activation checkpointing"));

  CHECK_FALSE(has(judged(exhausted()), "inference_mode"));  // no stack, no guess
}

TEST_CASE("other ranks' contexts on this GPU", "[suggestions]") {
  FailureReport f = exhausted();
  f.nvml_known = true;
  f.other_processes = {{11, 414 * kMiB}, {12, 414 * kMiB}, {13, 420 * kMiB}};
  f = judged(f);
  CHECK(has(f, "torch.cuda.set_device(local_rank)"));
  CHECK(has(f, "stop the other processes"));  // 1.22 GiB covers the 1 GiB shortfall

  FailureReport unlike = exhausted();
  unlike.other_processes = {{11, 414 * kMiB}, {12, 3 * kGiB}};
  CHECK_FALSE(has(judged(unlike), "set_device"));
}

TEST_CASE("frameworks that reserve the GPU up front", "[suggestions]") {
  FailureReport jax = exhausted();
  jax.framework = "jax";
  CHECK(has(judged(jax), "XLA_PYTHON_CLIENT_PREALLOCATE=false"));
  AllocatorSettings off = read_allocator_settings({{"XLA_PYTHON_CLIENT_PREALLOCATE", "false"}});
  CHECK_FALSE(has(judged(jax, off), "XLA_PYTHON_CLIENT_PREALLOCATE"));

  FailureReport tf = exhausted();
  tf.stack = {"tensorflow::BFCAllocator::AllocateRaw+0x10 (libtensorflow_framework.so.2)"};
  CHECK(has(judged(tf), "TF_FORCE_GPU_ALLOW_GROWTH=true"));
  AllocatorSettings growth = read_allocator_settings({{"TF_FORCE_GPU_ALLOW_GROWTH", "true"}});
  CHECK_FALSE(has(judged(tf, growth), "TF_FORCE_GPU_ALLOW_GROWTH"));
}
