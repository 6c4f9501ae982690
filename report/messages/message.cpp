#include "report/messages/message.h"

#include <algorithm>

#include "report/messages/normalize.h"
#include "report/messages/parsers.h"

namespace oomtrace::report::messages {

std::vector<ParsedMessage> parse_oom_messages(std::string_view text) {
  std::vector<std::string> lines = normalized_lines(text.substr(0, kMaxMessageInput));
  std::vector<bool> used(lines.size(), false);
  Input input{lines, used};
  std::vector<ParsedMessage> found;
  // Specific formats first; the raw-error parser takes what they left.
  for (auto* find : {find_pytorch_messages, find_pytorch_async_messages, find_tensorflow_messages, find_jax_messages,
                     find_cupy_messages, find_llamacpp_messages, find_vllm_messages, find_raw_cuda_messages}) {
    find(input, found);
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const ParsedMessage& a, const ParsedMessage& b) { return a.line < b.line; });
  return found;
}

std::string where_failed(const ParsedMessage& m) {
  if (!m.device) return "the GPU";
  return *m.device < 0 ? std::string("pinned host memory") : "GPU " + std::to_string(*m.device);
}

std::optional<ParsedMessage> parse_oom_message(std::string_view text) {
  std::vector<ParsedMessage> found = parse_oom_messages(text);
  if (found.empty()) return std::nullopt;
  return std::move(found.back());
}

}  // namespace oomtrace::report::messages
