// vLLM's own capacity checks at start-up: no CUDA call failed; vLLM found
// that the KV cache it can afford under gpu_memory_utilization is too small.
//   To serve at least one request with the models's max seq len (221000),
//     (10.12 GiB KV cache is needed, which is larger than the available KV
//     cache memory (5.59 GiB). Based on the available memory, the estimated
//     maximum model length is 122080. ...                          (V1)
//   The model's max seq len (29000) is larger than the maximum number of
//     tokens that can be stored in KV cache (23648). ...           (V0)
//   No available memory for the cache blocks. ...                  (V0)
// with the figures of its memory profiling lines when they are pasted too.
#include <cctype>

#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

ParsedMessage started(const std::string& line, size_t index, const char* variant) {
  ParsedMessage m;
  m.framework = "vllm";
  m.variant = variant;
  m.text = collapse_spaces(line);
  m.line = index;
  return m;
}

std::optional<ParsedMessage> parse_line(const std::string& line, size_t index) {
  if (contains(line, "KV cache is needed, which is larger than the available KV cache memory")) {
    ParsedMessage m = started(line, index, "vllm-kv-cache-needed");
    if (auto length = integer_after(line, "max seq len (")) m.figures["max_seq_len"] = *length;
    if (auto needed = size_before(line, " KV cache is needed")) m.figures["kv_cache_needed"] = needed->bytes;
    if (auto available = size_after(line, "available KV cache memory (")) {
      m.figures["kv_cache_available"] = available->bytes;
    }
    if (auto estimate = integer_after(line, "estimated maximum model length is ")) {
      m.figures["estimated_max_model_len"] = *estimate;
    }
    return m;
  }
  if (contains(line, "that can be stored in KV cache (")) {
    ParsedMessage m = started(line, index, "vllm-kv-cache-tokens");
    if (auto length = integer_after(line, "max seq len (")) m.figures["max_seq_len"] = *length;
    if (auto tokens = integer_after(line, "stored in KV cache (")) m.figures["kv_cache_tokens"] = *tokens;
    return m;
  }
  if (contains(line, "No available memory for the cache blocks")) return started(line, index, "vllm-no-cache-blocks");
  return std::nullopt;
}

// "gpu_memory_utilization=0.90" keeps hundredths: 90.
std::optional<uint64_t> hundredths(std::string_view text) {
  size_t end = 0;
  std::optional<uint64_t> whole = integer_at(text, 0, &end);
  if (!whole) return std::nullopt;
  uint64_t value = *whole * 100;
  auto digit = [&](size_t at) {
    return at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) ? text[at] - '0' : 0;
  };
  if (end < text.size() && text[end] == '.') value += digit(end + 1) * 10 + digit(end + 2);
  return value;
}

// "Memory profiling results: total_gpu_memory=23.58GiB ... gpu_memory_utilization=0.90"
void read_profile(const std::string& line, std::map<std::string, uint64_t>& figures) {
  size_t at = line.find("Memory profiling results:");
  if (at == std::string::npos) return;
  std::string_view rest = std::string_view(line).substr(at + 25);
  while (!rest.empty()) {
    rest = trim(rest);
    size_t space = rest.find(' ');
    std::string_view pair = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
    size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    std::string key(pair.substr(0, equals));
    std::string_view value = pair.substr(equals + 1);
    if (auto size = parse_size(value)) {
      figures[key] = *size;
    } else if (auto ratio = hundredths(value)) {
      figures[key + "_hundredths"] = *ratio;
    }
  }
}

void read_context(const std::string& line, std::map<std::string, uint64_t>& figures) {
  read_profile(line, figures);
  if (auto weights = size_after(line, "Loading model weights took ")) figures["model_weights"] = weights->bytes;
  if (auto blocks = integer_after(line, "# GPU blocks: ")) figures["gpu_blocks"] = *blocks;
  if (auto blocks = integer_after(line, "# CPU blocks: ")) figures["cpu_blocks"] = *blocks;
}

}  // namespace

void find_vllm_messages(Input input, std::vector<ParsedMessage>& out) {
  std::map<std::string, uint64_t> context;
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line]) continue;
    read_context(input.lines[line], context);
    std::optional<ParsedMessage> message = parse_line(input.lines[line], line);
    if (!message) continue;
    input.used[line] = true;
    for (const auto& [key, value] : context) message->figures.try_emplace(key, value);
    if (auto total = context.find("total_gpu_memory"); total != context.end()) message->total_bytes = total->second;
    out.push_back(std::move(*message));
  }
}

}  // namespace oomtrace::report::messages
