// PyTorch's cudaMallocAsync backend (PYTORCH_CUDA_ALLOC_CONF=backend:
// cudaMallocAsync), one figure per line:
//   Allocation on device 0 would exceed allowed memory. (out of memory)
//   Currently allocated     : 13.74 GiB
//   Requested               : 640.00 MiB
//   Device limit            : 14.75 GiB
//   Free (according to CUDA): 27.06 MiB
//   PyTorch limit (set by user-supplied memory fraction)
//                           : 17179869184.00 GiB
// "Device limit" is the device's total; the PyTorch limit is the memory
// fraction times it, or 2^64 bytes when no fraction was set.
#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

constexpr size_t kFigureLines = 8;
constexpr const char* kAnchor = "would exceed allowed memory";
// A limit this large is PyTorch's "no fraction set" (it prints 2^64 bytes).
constexpr uint64_t kNoLimit = 1ull << 60;

std::optional<uint64_t> figure(std::string_view text, std::string_view label) {
  size_t at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  size_t colon = text.find(':', at + label.size());
  if (colon == std::string_view::npos || !trim(text.substr(at + label.size(), colon - at - label.size())).empty()) {
    return std::nullopt;
  }
  std::optional<SizeToken> size = size_at(text, colon + 1);
  return size ? std::optional<uint64_t>(size->bytes) : std::nullopt;
}

ParsedMessage parse_figures(const std::string& text, size_t line) {
  ParsedMessage m;
  m.framework = "pytorch";
  m.variant = "pytorch-async";
  m.text = collapse_spaces(text);
  m.line = line;
  m.details["backend"] = "cudaMallocAsync";
  m.device = static_cast<int>(integer_after(text, "Allocation on device ").value_or(0));
  m.allocated_bytes = figure(text, "Currently allocated");
  m.requested_bytes = figure(text, "Requested");
  m.total_bytes = figure(text, "Device limit");
  m.free_bytes = figure(text, "Free (according to CUDA)");
  if (auto limit = figure(text, "PyTorch limit (set by user-supplied memory fraction)")) {
    m.figures["pytorch_limit"] = *limit;
    if (*limit < kNoLimit) m.cap = MemoryCap{CapKind::PyTorchMemoryFraction, *limit, true};
  }
  return m;
}

}  // namespace

void find_pytorch_async_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line] || !contains(input.lines[line], kAnchor)) continue;
    std::string text = input.lines[line];
    input.used[line] = true;
    size_t next = line + 1;
    for (; next < input.lines.size() && next <= line + kFigureLines; ++next) {
      if (trim(input.lines[next]).empty() || contains(input.lines[next], kAnchor)) break;
      text += " " + input.lines[next];
      input.used[next] = true;
    }
    ParsedMessage message = parse_figures(text, line);
    next = read_cpp_backtrace(input, next, message);
    out.push_back(std::move(message));
    line = next - 1;
  }
}

}  // namespace oomtrace::report::messages
