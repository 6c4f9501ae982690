// The rest of tests/fixtures/oom-messages: raw CUDA errors, TensorFlow, JAX,
// CuPy, llama.cpp and vLLM. Most carry no device figures: they are
// recognised, give what figures they have, and get no verdict, with an
// explanation that says what is missing.
#include <catch2/catch.hpp>

#include "fixture_support.h"
#include "report/messages/explain.h"

using namespace oomtrace;
using namespace oomtrace::test;
using report::Verdict;
using report::messages::ParsedMessage;
using Catch::Contains;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

}  // namespace

// Raw CUDA errors: recognised (they do say "out of memory" for a CUDA
// allocation) with the error and where it was raised, but no sizes at all,
// so no verdict. Rejecting them would tell the user less than we know.

TEST_CASE("34: PyTorch 0.x THC error 2 on device storage: recognised, no figures", "[fixtures][raw]") {
  auto e = explain_fixture("34");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch");
  CHECK(m.variant == "raw-cuda");
  CHECK(figure(m, "cuda_error_code") == 2u);
  CHECK_THAT(detail(m, "location"), Contains("THCStorage.cu:66"));
  CHECK(parse_fixture("34").size() == 1);  // the THC line and the RuntimeError are one failure
  CHECK_FALSE(m.requested_bytes);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("no sizes"));
}

TEST_CASE("35: THC caching host allocator: pinned host memory, no figures", "[fixtures][raw]") {
  auto e = explain_fixture("35");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch");
  CHECK(figure(m, "cuda_error_code") == 2u);
  CHECK_THAT(detail(m, "location"), Contains("THCCachingHostAllocator.cpp:278"));
  CHECK(m.device == -1);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("pinned host memory"));
}

TEST_CASE("36: vLLM worker's raw \"CUDA error: out of memory\": recognised, no figures", "[fixtures][raw]") {
  // Raised at CUDA-graph capture, outside PyTorch's allocator: no sizes.
  auto e = explain_fixture("36");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch");
  CHECK(detail(m, "cuda_error") == "out of memory");
  CHECK_FALSE(m.requested_bytes);
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "oomtrace run"));
}

TEST_CASE("37: a program's own cudaMalloc failure after a progress bar: recognised, no figures", "[fixtures][raw]") {
  // The thread's cause was a leak, which only a trace over the run shows.
  auto e = explain_fixture("37");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "cuda");
  CHECK_THAT(detail(m, "location"), Contains("data_struct_cuda.cu:83"));
  CHECK(detail(m, "call") == "cudaMalloc(&this->d_jcb, size * sizeof(float))");
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("57: CuPy's raw cudaErrorMemoryAllocation: recognised, no figures", "[fixtures][raw]") {
  auto e = explain_fixture("57");
  CHECK(e.message.framework == "cupy");
  CHECK(detail(e.message, "cuda_error") == "cudaErrorMemoryAllocation");
  CHECK_FALSE(e.failure.verdict);
}

// TensorFlow: its messages give the request (and the allocator, the op, the
// tensor) but not the device's total and free memory, so no verdict -- except
// when the allocator's Stats block is pasted too.

TEST_CASE("38: TensorFlow's driver back-off, seven lines of one failure: no verdict", "[fixtures][tensorflow]") {
  // TensorFlow reserves its pool in one request and retries with 90% of the
  // last: one failure, the retries kept in order.
  std::vector<ParsedMessage> all = parse_fixture("38");
  REQUIRE(all.size() == 1);
  const ParsedMessage& m = all[0];
  CHECK(m.framework == "tensorflow");
  CHECK(m.variant == "tensorflow-driver");
  CHECK(m.requested_bytes == 167444480u);  // "159.69M (167444480 bytes)": the exact figure
  CHECK(figure(m, "retries") == 6u);
  CHECK(figure(m, "retry_1") == 150700032u);
  CHECK(figure(m, "retry_6") == 88987392u);  // line 7
  auto e = explain_fixture("38");
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("6 retries") && Contains("84.86 MiB"));
}

TEST_CASE("39: pinned host allocation refused, then retried: host memory, no verdict", "[fixtures][tensorflow]") {
  std::vector<ParsedMessage> all = parse_fixture("39");
  REQUIRE(all.size() == 1);  // "could not allocate pinned host memory" repeats each request
  CHECK(all[0].requested_bytes == 2147483648u);
  CHECK(figure(all[0], "retry_1") == 1932735232u);  // line 3
  CHECK(all[0].device == -1);
  CHECK_FALSE(explain_fixture("39").failure.verdict);
}

TEST_CASE("40: two root errors, the tensor's bytes from shape and dtype: no verdict", "[fixtures][tensorflow]") {
  std::vector<ParsedMessage> all = parse_fixture("40");
  REQUIRE(all.size() == 2);
  for (const ParsedMessage& m : all) {
    CHECK(detail(m, "shape") == "[16,112,112,147]");
    CHECK(detail(m, "dtype") == "float");
    CHECK(detail(m, "device") == "/job:localhost/replica:0/task:0/device:GPU:0");
    CHECK(detail(m, "allocator") == "GPU_0_bfc");
    CHECK(m.device == 0);
    CHECK(m.requested_bytes == 16ull * 112 * 112 * 147 * 4);  // 112.55 MiB
  }
  auto e = explain_fixture("40");
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("shape [16,112,112,147]") && Contains("Stats"));
}

TEST_CASE("41: a tensor on GPU:1: the device and bytes from the message, no verdict", "[fixtures][tensorflow]") {
  auto e = explain_fixture("41");
  const ParsedMessage& m = e.message;
  CHECK(detail(m, "shape") == "[128,128,109,109]");
  CHECK(detail(m, "dtype") == "float");
  CHECK(detail(m, "device") == "/job:localhost/replica:0/task:0/device:GPU:1");
  CHECK(detail(m, "allocator") == "GPU_1_bfc");
  CHECK(m.device == 1);
  CHECK(m.requested_bytes == 128ull * 128 * 109 * 109 * 4);
  CHECK(e.failure.device == 1);
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("43: BFC on a Jetson with 67 MB for TensorFlow: no verdict", "[fixtures][tensorflow]") {
  auto e = explain_fixture("43");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "tensorflow-bfc");
  CHECK(figure(m, "tf_device_memory") == 67 * kMiB);
  CHECK(figure(m, "requested_as_printed") == 18 * kMiB);
  CHECK(figure(m, "rounded") == 18874368u);
  CHECK(m.requested_bytes == 18874368u);
  CHECK(detail(m, "op") == "Mul");
  CHECK(detail(m, "allocator") == "GPU_0_bfc");
  CHECK(parse_fixture("43").size() == 1);
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "TF_GPU_ALLOCATOR=cuda_malloc_async"));
}

TEST_CASE("44: BFC after the CPU allocator's warning: both figures, no verdict", "[fixtures][tensorflow]") {
  auto e = explain_fixture("44");
  const ParsedMessage& m = e.message;
  CHECK(figure(m, "cpu_allocation") == 43731715200u);
  CHECK(figure(m, "requested_as_printed") == 43733504492u);  // "40.73GiB"
  CHECK(figure(m, "rounded") == 43731715328u);
  CHECK(m.requested_bytes == 43731715328u);
  CHECK(detail(m, "op") == "_EagerConst");
  CHECK(detail(m, "allocator") == "GPU_0_bfc");
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("45: cuda_host_bfc full at its 64 GiB limit: limit", "[fixtures][tensorflow]") {
  // The title: out of memory due to the cuda_host_bfc allocator.
  auto e = explain_fixture("45");
  const ParsedMessage& m = e.message;
  CHECK(figure(m, "bfc_Limit") == 68719476736u);
  CHECK(figure(m, "bfc_InUse") == 68719476736u);
  CHECK(figure(m, "bfc_MaxInUse") == 68719476736u);
  CHECK(figure(m, "bfc_NumAllocs") == 32u);
  CHECK(figure(m, "bfc_MaxAllocSize") == 6359738368u);
  CHECK(detail(m, "shape") == "[1000,1000,250,4]");
  CHECK(detail(m, "allocator") == "cuda_host_bfc");
  CHECK(m.requested_bytes == 3994319585u);  // "3.72GiB": the shape has no dtype
  CHECK(m.device == -1);
  CHECK(parse_fixture("45").size() == 1);  // the tensor line and the allocator line are one failure
  REQUIRE(e.failure.cap);
  CHECK(e.failure.cap->kind == report::CapKind::TensorFlowHostLimit);
  CHECK(e.failure.verdict == Verdict::Limit);
  CHECK(has_suggestion(e.failure, "TF_GPU_HOST_MEM_LIMIT_IN_MB="));
}

TEST_CASE("46: XLA-era BFC line with a truncated timestamp: no verdict", "[fixtures][tensorflow]") {
  // The reporter's fix was TF_GPU_ALLOCATOR=cuda_malloc_async (fragmentation);
  // the message alone does not show it, so it is suggested, not decided.
  auto e = explain_fixture("46");
  const ParsedMessage& m = e.message;
  CHECK(figure(m, "requested_as_printed") == 35756442u);  // "34.10MiB"
  CHECK(figure(m, "rounded") == 35758080u);
  CHECK(detail(m, "op") == "StatefulPartitionedCall/model_new14_1/batch_normalization_36_1/moments/SquaredDifference");
  CHECK(detail(m, "allocator") == "GPU_0_bfc");
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "TF_GPU_ALLOCATOR=cuda_malloc_async"));
}

TEST_CASE("48: ROCm TensorFlow asks for all it measured at start-up: no verdict", "[fixtures][tensorflow]") {
  // The thread: another process had taken the memory. The first request is
  // exactly the 7524 MB TensorFlow measured free, which the explanation says.
  auto e = explain_fixture("48");
  const ParsedMessage& m = e.message;
  CHECK(parse_fixture("48").size() == 1);
  CHECK(m.framework == "tensorflow-rocm");
  CHECK(figure(m, "tf_device_memory") == 7524 * kMiB);
  CHECK(m.requested_bytes == 7889485824u);           // line 2
  CHECK(figure(m, "retry_1") == 7100536832u);         // line 3
  CHECK(figure(m, "retry_2") == 6390482944u);         // line 4
  CHECK(detail(m, "cuda_error") == "hipError_t(1002)");
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("no longer free"));
}

// JAX: the request, and the compiled program's own buffers when the
// BufferAssignment dump follows; never the device's figures.

TEST_CASE("50: RESOURCE_EXHAUSTED with the BufferAssignment dump: no verdict", "[fixtures][jax]") {
  auto e = explain_fixture("50");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "jax");
  CHECK(m.requested_bytes == 6291456u);
  CHECK(figure(m, "parameter_allocation") == 6 * kMiB);
  CHECK(figure(m, "constant_allocation") == 0u);
  CHECK(figure(m, "maybe_live_out_allocation") == 6 * kMiB);
  CHECK(figure(m, "preallocated_temp_allocation") == 0u);
  CHECK(figure(m, "total_allocation") == 12 * kMiB);
  CHECK(figure(m, "total_fragmentation") == 0u);
  CHECK(figure(m, "buffer1_size") == 6 * kMiB);
  CHECK(detail(m, "buffer1_shape") == "f32[4096,128,3]");
  CHECK(figure(m, "buffer2_size") == 384 * 1024u);
  CHECK(detail(m, "buffer2_shape") == "f32[256,128,3]");
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("12.00 MiB"));
  CHECK(has_suggestion(e.failure, "XLA_PYTHON_CLIENT_PREALLOCATE=false"));
}

TEST_CASE("51: bare RESOURCE_EXHAUSTED: the request, no verdict", "[fixtures][jax]") {
  auto e = explain_fixture("51");
  CHECK(e.message.framework == "jax");
  CHECK(e.message.requested_bytes == 7406166528u);
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("53: \"Failed to allocate request\" on device ordinal 0: no verdict", "[fixtures][jax]") {
  auto e = explain_fixture("53");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 6727663616u);  // the exact "(6727663616B)"
  CHECK(figure(m, "requested_as_printed") == 6732361236u);  // "6.27GiB"
  CHECK(m.device == 0);
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("54: CuPy via Chainer, comma-grouped bytes, no limit set: no verdict", "[fixtures][cupy]") {
  auto e = explain_fixture("54");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "cupy");
  CHECK(m.requested_bytes == 25600000u);
  CHECK(figure(m, "allocated_so_far") == 3635267072u);
  CHECK_FALSE(m.cap);
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "free_all_blocks"));
}

// llama.cpp prints what it asked for and on which device, not the device's
// figures: recognised, no verdict, and its own knobs suggested.

TEST_CASE("58: llama.cpp loading 141 GiB of weights on CUDA0: no verdict", "[fixtures][llamacpp]") {
  auto e = explain_fixture("58");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "llama.cpp");
  CHECK(figure(m, "requested_as_printed") == 151851672535u);  // "144817.04 MiB"
  CHECK(m.requested_bytes == 151851674624u);                  // the buffer's exact size
  CHECK(m.device == 0);
  CHECK(detail(m, "buffer") == "CUDA0");
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "--n-gpu-layers"));
}

TEST_CASE("59: llama.cpp's ROCm build, compute buffers: no verdict", "[fixtures][llamacpp]") {
  auto e = explain_fixture("59");
  const ParsedMessage& m = e.message;
  CHECK(figure(m, "requested_as_printed") == 14822712279u);  // "14136.04 MiB"
  CHECK(m.requested_bytes == 14822711296u);
  CHECK(m.device == 0);
  CHECK(detail(m, "buffer") == "ROCm0");
  CHECK_FALSE(e.failure.verdict);
}

// vLLM's KV-cache checks are not allocation failures: recognised with
// vLLM's own figures, no verdict, and the setting its figures call for.

TEST_CASE("60: vLLM V1, KV cache too small for max_model_len: no verdict, the length that fits",
          "[fixtures][vllm]") {
  auto e = explain_fixture("60");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "vllm");
  CHECK(figure(m, "max_seq_len") == 221000u);
  CHECK(figure(m, "kv_cache_needed") == 10866267259u);    // "10.12 GiB"
  CHECK(figure(m, "kv_cache_available") == 6002216796u);  // "5.59 GiB"
  CHECK(figure(m, "estimated_max_model_len") == 122080u);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("Not a failed allocation"));
  CHECK(has_suggestion(e.failure, "--max-model-len 122080"));
}

TEST_CASE("61: vLLM V0, no memory for cache blocks, no figures: no verdict", "[fixtures][vllm]") {
  auto e = explain_fixture("61");
  CHECK(e.message.framework == "vllm");
  CHECK(e.message.figures.empty());
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "--gpu-memory-utilization"));
}

TEST_CASE("62: vLLM V0 with its profiling figures: no verdict, the utilization that fits",
          "[fixtures][vllm]") {
  auto e = explain_fixture("62");
  const ParsedMessage& m = e.message;
  CHECK(figure(m, "model_weights") == 16094101452u);  // "14.9888 GB"
  CHECK(figure(m, "total_gpu_memory") == 25318832210u);
  CHECK(figure(m, "initial_memory_usage") == 16471199580u);
  CHECK(figure(m, "peak_torch_memory") == 19305877996u);
  CHECK(figure(m, "non_torch_memory") == 375809638u);
  CHECK(figure(m, "kv_cache_size") == 3103113871u);
  CHECK(figure(m, "gpu_memory_utilization_hundredths") == 90u);
  CHECK(figure(m, "gpu_blocks") == 1478u);
  CHECK(figure(m, "cpu_blocks") == 2048u);
  CHECK(figure(m, "max_seq_len") == 29000u);
  CHECK(figure(m, "kv_cache_tokens") == 23648u);
  CHECK(m.total_bytes == 25318832210u);
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "--max-model-len 23648"));
  // (17.98 + 0.35 + 2.89 x 29000 / 23648) / 23.58 = 0.928: 0.93.
  CHECK(has_suggestion(e.failure, "--gpu-memory-utilization 0.93"));
}

TEST_CASE("every fixture is recognised", "[fixtures]") {
  for (const char* number : {"01", "02", "03", "04", "05", "07", "08", "10", "11", "12", "13", "15", "16",
                             "17", "19", "20", "21", "23", "24", "25", "26", "27", "28", "29", "30", "32",
                             "33", "34", "35", "36", "37", "38", "39", "40", "41", "43", "44", "45", "46",
                             "48", "50", "51", "53", "54", "57", "58", "59", "60", "61", "62", "63"}) {
    INFO("fixture " << number);
    CHECK_FALSE(parse_fixture(number).empty());
  }
}

TEST_CASE("text that is not an out-of-memory message is not recognised", "[explain]") {
  using report::messages::explain_message;
  CHECK_FALSE(explain_message(""));
  CHECK_FALSE(explain_message("Segmentation fault (core dumped)"));
  CHECK_FALSE(explain_message("RuntimeError: CUDA error: device-side assert triggered"));
  CHECK_FALSE(explain_message("RuntimeError: DefaultCPUAllocator: not enough memory: you tried to allocate 8 bytes."));
  CHECK_FALSE(explain_message("Tried to allocate 2.00 GiB"));  // no out-of-memory wording: not a guess
  CHECK_FALSE(explain_message("the process ran out of memory"));
}
