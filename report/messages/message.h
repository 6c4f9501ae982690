// Out-of-memory messages as frameworks print them, read back into figures:
// what `oomtrace explain` works from when there is no trace.
//
// Recognised: PyTorch's messages from 2018 on (the "... cached)" era, the
// "reserved in total by PyTorch)" era, 2.1's "total capacty" and the current
// "GPU 0 has a total capacity of ..." with processes, "allowed" and private
// pools; its ROCm and XPU builds; its cudaMallocAsync backend; the 1 EB
// guard), TensorFlow's (BFC allocator, "OOM when allocating tensor with
// shape", driver failures), JAX's RESOURCE_EXHAUSTED, CuPy's "Out of memory
// allocating", raw CUDA out-of-memory errors (PyTorch 0.x's THC, "CUDA
// error: out of memory", cudaErrorMemoryAllocation), llama.cpp's failed
// buffer allocations, and vLLM's KV-cache capacity checks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/verdicts/report.h"

namespace oomtrace::report::messages {

// Input is cut at this size: a message is a few kilobytes.
inline constexpr size_t kMaxMessageInput = 1 << 20;

struct ProcessUse {
  uint32_t pid = 0;
  uint64_t bytes = 0;
};

// Every figure is exactly what the message printed, converted to bytes;
// nullopt where it does not say.
struct ParsedMessage {
  // pytorch, pytorch-rocm, pytorch-xpu, tensorflow, tensorflow-rocm, jax,
  // cupy, cuda, llama.cpp, vllm.
  std::string framework;
  // Which of the framework's formats: e.g. "pytorch-cached", "pytorch-reserved",
  // "pytorch-capacity", "pytorch-async", "tensorflow-bfc", "raw-cuda".
  std::string variant;
  std::string text;        // the message as read: prefixes removed, lines joined
  size_t line = 0;         // where it starts in the input, from 0

  std::optional<uint64_t> requested_bytes;
  bool requested_at_least = false;  // "more than 1EB": a lower bound
  std::optional<int> device;        // -1: host (pinned) memory
  std::optional<uint64_t> total_bytes;
  std::optional<uint64_t> free_bytes;
  std::optional<uint64_t> allocated_bytes;  // live, by the framework
  std::optional<uint64_t> reserved_bytes;   // held by the framework, allocated included
  std::optional<uint64_t> this_process_bytes;  // NVML's figure, non-framework memory included
  std::vector<ProcessUse> processes;           // other processes, as listed
  std::optional<uint64_t> largest_free_block_bytes;
  std::optional<MemoryCap> cap;

  // Every other figure the message states, by name (sizes in bytes; counts,
  // token lengths and ratios as printed, ratios in hundredths): e.g.
  // reserved_unallocated, cached, private_pools, rounded, bfc_in_use.
  std::map<std::string, uint64_t> figures;
  // Words the message states: allocator, op, shape, dtype, cuda_error,
  // location, call, hint.
  std::map<std::string, std::string> details;
  std::vector<std::string> stack;  // C++ frames printed with the message
};

// Where the message says the allocation failed, in words: "GPU 1",
// "pinned host memory", or "the GPU" when it does not say.
std::string where_failed(const ParsedMessage& message);

// Every out-of-memory message in the text, in the order they appear.
std::vector<ParsedMessage> parse_oom_messages(std::string_view text);

// The last one: in a log, the nearest to where the program stopped (earlier
// ones were often caught and retried). nullopt when there is none.
std::optional<ParsedMessage> parse_oom_message(std::string_view text);

}  // namespace oomtrace::report::messages
