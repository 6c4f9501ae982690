// llama.cpp (ggml's CUDA and ROCm backends), loading a model or reserving
// its compute buffers:
//   ggml_backend_cuda_buffer_type_alloc_buffer: allocating 144817.04 MiB on
//     device 0: cudaMalloc failed: out of memory
//   alloc_tensor_range: failed to allocate CUDA0 buffer of size 151851674624
#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

constexpr size_t kFollowingLines = 3;

std::optional<ParsedMessage> parse_line(const std::string& line, size_t index) {
  if (!contains(line, "_alloc_buffer: allocating ") || !contains(line, "failed: out of memory")) return std::nullopt;
  ParsedMessage m;
  m.framework = "llama.cpp";
  m.variant = "llamacpp-buffer";
  m.text = collapse_spaces(line);
  m.line = index;
  if (auto printed = size_after(line, "allocating ")) {
    m.figures["requested_as_printed"] = printed->bytes;
    m.requested_bytes = printed->bytes;
  }
  if (auto device = integer_after(line, " on device ")) m.device = static_cast<int>(*device);
  return m;
}

// "failed to allocate CUDA0 buffer of size 151851674624": the exact size.
void read_buffer_line(const std::string& line, ParsedMessage& m) {
  size_t at = line.find("failed to allocate ");
  size_t buffer = line.find(" buffer of size ");
  if (at == std::string::npos || buffer == std::string::npos || buffer < at) return;
  m.details["buffer"] = line.substr(at + 19, buffer - at - 19);
  if (auto bytes = integer_at(line, buffer + 16)) m.requested_bytes = *bytes;
  if (m.details["buffer"].starts_with("ROCm")) m.details["backend"] = "ROCm";
  m.text += " " + collapse_spaces(line);
}

}  // namespace

void find_llamacpp_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line]) continue;
    std::optional<ParsedMessage> message = parse_line(input.lines[line], line);
    if (!message) continue;
    input.used[line] = true;
    for (size_t next = line + 1; next < input.lines.size() && next <= line + kFollowingLines; ++next) {
      if (!contains(input.lines[next], " buffer of size ")) continue;
      read_buffer_line(input.lines[next], *message);
      input.used[next] = true;
      break;
    }
    out.push_back(std::move(*message));
  }
}

}  // namespace oomtrace::report::messages
