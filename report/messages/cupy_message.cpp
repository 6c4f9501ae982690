// CuPy's memory pool:
//   Out of memory allocating 25,600,000 bytes (allocated so far:
//     3,635,267,072 bytes[, limit set to: 4,294,967,296 bytes]).
// and its older wording "out of memory to allocate N bytes (total M bytes)".
// "Allocated so far" is everything the pool holds, its cached free blocks
// included, which is what its limit counts.
#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

std::optional<ParsedMessage> parse_line(const std::string& line, size_t index) {
  std::optional<SizeToken> requested = size_after(line, "Out of memory allocating ");
  std::optional<SizeToken> held = size_after(line, "(allocated so far: ");
  if (!requested || !held) {
    requested = size_after(line, "out of memory to allocate ");
    held = size_after(line, "(total ");
  }
  if (!requested || !held) return std::nullopt;
  ParsedMessage m;
  m.framework = "cupy";
  m.variant = "cupy-pool";
  m.text = collapse_spaces(line);
  m.line = index;
  m.requested_bytes = requested->bytes;
  m.reserved_bytes = held->bytes;
  m.figures["allocated_so_far"] = held->bytes;
  if (auto limit = size_after(line, "limit set to: ")) {
    m.figures["limit"] = limit->bytes;
    m.cap = MemoryCap{CapKind::CuPyPoolLimit, limit->bytes, true};
  }
  return m;
}

}  // namespace

void find_cupy_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line]) continue;
    if (std::optional<ParsedMessage> message = parse_line(input.lines[line], line)) {
      input.used[line] = true;
      out.push_back(std::move(*message));
    }
  }
}

}  // namespace oomtrace::report::messages
