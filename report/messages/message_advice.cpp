#include "report/messages/message_advice.h"

#include "report/common/format_bytes.h"
#include "report/verdicts/suggestions.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report::messages {
namespace {

const char kNoVerdict[] = "so no verdict is possible.";

std::optional<uint64_t> figure(const ParsedMessage& m, const std::string& key) {
  auto found = m.figures.find(key);
  return found == m.figures.end() ? std::nullopt : std::optional<uint64_t>(found->second);
}

std::string detail(const ParsedMessage& m, const std::string& key) {
  auto found = m.details.find(key);
  return found == m.details.end() ? std::string() : found->second;
}

std::string raw_cuda_missing(const ParsedMessage& m) {
  std::string location = detail(m, "location");
  std::string text = "The message is the bare CUDA error (" + detail(m, "cuda_error") +
                     (location.empty() ? "" : " at " + location) +
                     "): it carries no sizes, not the request and not the device's total or free memory, " +
                     kNoVerdict;
  if (m.device == -1) {
    text += " The allocation that failed was pinned host memory (PyTorch's caching host allocator): page-locked "
            "memory of the host, not the GPU's.";
  }
  return text;
}

std::string tensorflow_given(const ParsedMessage& m) {
  std::string text = "TensorFlow could not allocate " +
                     (m.requested_bytes ? format_bytes(*m.requested_bytes) : std::string("a tensor"));
  std::string shape = detail(m, "shape");
  if (!shape.empty()) {
    std::string dtype = detail(m, "dtype");
    text += " (a tensor of shape " + shape + (dtype.empty() ? " of unstated type" : " and type " + dtype) + ")";
  }
  std::string allocator = detail(m, "allocator");
  if (!allocator.empty()) text += " in its allocator " + allocator;
  text += " on " + where_failed(m);
  std::string op = detail(m, "op");
  if (!op.empty()) text += " for the op " + op;
  return text + ".";
}

std::string tensorflow_missing(const ParsedMessage& m) {
  std::string text = tensorflow_given(m);
  std::optional<uint64_t> device_memory = figure(m, "tf_device_memory");
  if (m.variant == "tensorflow-driver") {
    text += " This is TensorFlow reserving its pool: the driver refused it";
    if (auto retries = figure(m, "retries")) {
      uint64_t last = figure(m, "retry_" + std::to_string(*retries)).value_or(0);
      text += ", and the " + std::to_string(*retries) + (*retries == 1 ? " retry" : " retries") +
              " TensorFlow made with 10% less each, down to " + format_bytes(last);
    }
    text += ".";
    if (device_memory && m.requested_bytes == device_memory) {
      text += " The request equals the " + format_bytes(*device_memory) +
              " TensorFlow found it could use at start-up: that memory was no longer free when it asked, taken "
              "by another process or never allocatable in one piece.";
    }
  } else if (device_memory) {
    text += " TensorFlow had " + format_bytes(*device_memory) + " of " + where_failed(m) + " for itself.";
  }
  text += " The message does not say how much was in use or free at the failure, " + std::string(kNoVerdict);
  if (m.variant == "tensorflow-driver") return text;
  return text + " The allocator dump printed after it has those figures: its Stats (Limit, InUse, LargestFreeBlock).";
}

std::string jax_missing(const ParsedMessage& m) {
  std::string text =
      "JAX could not allocate " + format_bytes(m.requested_bytes.value_or(0)) + " on " + where_failed(m) + ".";
  if (auto total = figure(m, "total_allocation")) {
    text += " The compiled program's own buffers total " + format_bytes(*total) +
            " (BufferAssignment stats); the rest of the GPU was held by other arrays kept alive, by JAX's "
            "preallocated pool, or by other processes.";
  }
  return text + " The message does not say how much of the GPU was in use or free, " + kNoVerdict;
}

std::string cupy_missing(const ParsedMessage& m) {
  return "CuPy's memory pool held " + format_bytes(m.reserved_bytes.value_or(0)) + " when " +
         format_bytes(m.requested_bytes.value_or(0)) +
         " more was asked for; the pool keeps freed blocks cached, so part of that may have been free blocks too "
         "small for the request. The message does not give the device's total or free memory, " + kNoVerdict;
}

std::string llamacpp_missing(const ParsedMessage& m) {
  std::string buffer = detail(m, "buffer");
  return "llama.cpp could not allocate its " + (buffer.empty() ? std::string() : buffer + " ") + "buffer of " +
         format_bytes(m.requested_bytes.value_or(0)) + " on " + where_failed(m) +
         " (cudaMalloc failed). The message does not give the device's total or free memory, " + kNoVerdict;
}

std::string vllm_missing(const ParsedMessage& m) {
  std::string text = "Not a failed allocation: vLLM checked at start-up whether the KV cache it can afford under "
                     "gpu_memory_utilization serves one request of the model's full length, and it does not. ";
  auto length = figure(m, "max_seq_len");
  if (auto needed = figure(m, "kv_cache_needed"); needed && length) {
    text += "A request of " + std::to_string(*length) + " tokens needs " + format_bytes(*needed) +
            " of KV cache; " + format_bytes(figure(m, "kv_cache_available").value_or(0)) + " is available";
    if (auto estimate = figure(m, "estimated_max_model_len")) {
      text += ", enough for " + std::to_string(*estimate) + " tokens";
    }
    text += ". ";
  } else if (auto tokens = figure(m, "kv_cache_tokens"); tokens && length) {
    text += "The KV cache" +
            (figure(m, "kv_cache_size") ? " (" + format_bytes(*figure(m, "kv_cache_size")) + ")" : std::string()) +
            " holds " + std::to_string(*tokens) + " tokens, fewer than the " + std::to_string(*length) +
            " of max_model_len. ";
  } else {
    text += "After loading the model nothing was left for the KV cache. ";
  }
  return text + "The message gives no device figures at the failure, " + kNoVerdict;
}

// The gpu_memory_utilization that leaves room for a KV cache of the full
// length: vLLM gives the KV cache total x utilization - peak - non-torch.
std::optional<Suggestion> vllm_utilization(const ParsedMessage& m) {
  auto total = figure(m, "total_gpu_memory");
  auto peak = figure(m, "peak_torch_memory");
  auto non_torch = figure(m, "non_torch_memory");
  auto kv = figure(m, "kv_cache_size");
  auto tokens = figure(m, "kv_cache_tokens");
  auto length = figure(m, "max_seq_len");
  if (!total || !peak || !non_torch || !kv || !tokens || !length || *tokens == 0 || *total == 0) return std::nullopt;
  unsigned __int128 wide_kv_needed = static_cast<unsigned __int128>(*kv) * *length / *tokens;
  if (wide_kv_needed > UINT64_MAX / 2) return std::nullopt;
  uint64_t kv_needed = static_cast<uint64_t>(wide_kv_needed);
  std::optional<std::string> utilization = fraction_covering(kv_needed + *peak + *non_torch, *total);
  if (!utilization) return std::nullopt;
  return Suggestion{"--gpu-memory-utilization " + *utilization,
                    "a KV cache for " + std::to_string(*length) + " tokens needs about " +
                        format_bytes(kv_needed) + "; vLLM gives it " + format_bytes(*total) +
                        " x utilization - " + format_bytes(*peak) + " peak - " + format_bytes(*non_torch) +
                        " outside PyTorch, which is " + format_bytes(*kv) + " now"};
}

void vllm_suggestions(const ParsedMessage& m, std::vector<Suggestion>& out) {
  auto length = figure(m, "max_seq_len");
  std::optional<uint64_t> fits = figure(m, "estimated_max_model_len");
  if (!fits) fits = figure(m, "kv_cache_tokens");
  if (fits && length) {
    out.push_back({"--max-model-len " + std::to_string(*fits),
                   "the longest request the KV cache holds now; " + std::to_string(*length) + " does not fit"});
  }
  if (auto utilization = vllm_utilization(m)) {
    out.push_back(*utilization);
  } else {
    out.push_back({"--gpu-memory-utilization (higher)",
                   "the share of the GPU vLLM may use for the model, its activations and the KV cache; raise it "
                   "if nothing else runs on the GPU"});
  }
}

void llamacpp_suggestions(const ParsedMessage& m, std::vector<Suggestion>& out) {
  std::string size = format_bytes(m.requested_bytes.value_or(0));
  out.push_back({"--n-gpu-layers <fewer>", "keeps some of the model's layers in host memory, so less than the " +
                                               size + " must fit on " + where_failed(m)});
  out.push_back({"--ctx-size <smaller>", "the KV cache and compute buffers grow with the context length"});
}

bool pytorch_sentence_era(const ParsedMessage& m) {
  return m.variant == "pytorch-capacity" || m.variant == "pytorch-capacty";
}

}  // namespace

std::string explain_missing(const ParsedMessage& m, const FailureReport& f) {
  if (m.variant == "raw-cuda") return raw_cuda_missing(m);
  if (m.framework.starts_with("tensorflow")) return tensorflow_missing(m);
  if (m.framework == "jax") return jax_missing(m);
  if (m.framework == "cupy") return cupy_missing(m);
  if (m.framework == "llama.cpp") return llamacpp_missing(m);
  if (m.framework == "vllm") return vllm_missing(m);
  if (m.variant == "pytorch-truncated") {
    return "The message stops after the request for " + format_bytes(f.requested_bytes) +
           ": it was cut short before the device's total and free memory and what PyTorch held, " + kNoVerdict;
  }
  return "The message does not give the device's total and free memory, " + std::string(kNoVerdict);
}

std::string explain_room_hint(const ParsedMessage& m, const FailureReport& f) {
  if (!pytorch_sentence_era(m) || f.cap) return "";
  return " PyTorch also refuses with room left when a per-process memory fraction caps it "
         "(torch.cuda.set_per_process_memory_fraction), and some versions (2.1 among them) do not print that cap.";
}

std::vector<Suggestion> message_suggestions(const ParsedMessage& m, const FailureReport& f) {
  std::vector<Suggestion> out;
  if (m.framework == "vllm") {
    vllm_suggestions(m, out);
    return out;
  }
  if (m.framework == "llama.cpp") llamacpp_suggestions(m, out);
  if (m.variant == "pytorch-cached" && f.verdict == Verdict::Fragmentation) {
    out.push_back({"upgrade PyTorch", "this message's format (\"... cached)\") comes from a PyTorch older than "
                                      "PYTORCH_CUDA_ALLOC_CONF; the settings above need a newer one"});
  }
  if (!f.verdict && device_had_room(f) && pytorch_sentence_era(m) && !f.cap) {
    out.push_back({"torch.cuda.set_per_process_memory_fraction",
                   "check whether the program or a library sets a memory fraction: the device had " +
                       format_bytes(f.device_free_bytes.value_or(0)) +
                       " free, and a cap is what makes PyTorch refuse with room left"});
  }
  if (m.framework.starts_with("tensorflow") && !f.verdict && m.variant != "tensorflow-driver") {
    out.push_back({"TF_GPU_ALLOCATOR=cuda_malloc_async",
                   "if the allocator dump shows more free memory than the request but no chunk as large "
                   "(fragmentation), the CUDA stream-ordered allocator avoids it"});
  }
  if (m.framework == "jax" && !f.verdict) {
    out.push_back({"XLA_PYTHON_CLIENT_PREALLOCATE=false",
                   "JAX takes 75% of the GPU at start-up for its pool; another JAX or TensorFlow process on the "
                   "same GPU then finds it taken. Without preallocation JAX takes memory as it goes"});
  }
  if (m.framework == "cupy" && !f.verdict && m.reserved_bytes) {
    out.push_back({"cupy.get_default_memory_pool().free_all_blocks()",
                   "returns the pool's cached free blocks to the device before a large step"});
  }
  if (!f.verdict) {
    out.push_back({"oomtrace run -- <your command>",
                   "records what the device, this process and the others held at the instant of the failure, "
                   "which this message does not say"});
  }
  return out;
}

}  // namespace oomtrace::report::messages
