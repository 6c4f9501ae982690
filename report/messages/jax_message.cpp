// JAX (XLA) messages:
//   XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to
//     allocate 6291456 bytes.
//   XlaRuntimeError: RESOURCE_EXHAUSTED: Failed to allocate request for
//     6.27GiB (6727663616B) on device ordinal 0
// optionally followed by "BufferAssignment OOM Debugging." with the
// program's allocation stats and its peak buffers.
#include <cctype>

#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

constexpr size_t kMaxDumpLines = 80;

bool exhausted(const std::string& line) {
  return contains(line, "RESOURCE_EXHAUSTED") || contains(line, "Resource exhausted: Out of memory");
}

std::optional<ParsedMessage> parse_line(const std::string& line, size_t index) {
  if (!exhausted(line)) return std::nullopt;
  ParsedMessage m;
  m.framework = "jax";
  m.text = collapse_spaces(line);
  m.line = index;
  if (auto bytes = size_after(line, "Out of memory while trying to allocate ")) {
    m.variant = "jax-out-of-memory";
    m.requested_bytes = bytes->bytes;
  } else if (auto printed = size_after(line, "Failed to allocate request for ")) {
    m.variant = "jax-failed-request";
    m.figures["requested_as_printed"] = printed->bytes;
    std::optional<SizeToken> exact = size_after(line, "(", printed->end);
    m.requested_bytes = exact ? exact->bytes : printed->bytes;
    if (auto ordinal = integer_after(line, "device ordinal ")) m.device = static_cast<int>(*ordinal);
  } else {
    return std::nullopt;
  }
  return m;
}

// "maybe_live_out allocation:    6.00MiB" -> figures["maybe_live_out"]
void read_stat(std::string_view line, ParsedMessage& m) {
  size_t at = line.find(" allocation:");
  if (at != std::string_view::npos) {
    std::string name(trim(line.substr(0, at)));
    for (char& c : name) c = c == ' ' ? '_' : c;
    if (auto size = size_at(line, at + 12)) m.figures[name + "_allocation"] = size->bytes;
    return;
  }
  if (auto fragmentation = size_after(line, "total fragmentation:")) {
    m.figures["total_fragmentation"] = fragmentation->bytes;
  }
}

void read_buffer_line(std::string_view line, int buffer, ParsedMessage& m) {
  std::string key = "buffer" + std::to_string(buffer);
  if (line.substr(0, 5) == "Size:") {
    if (auto size = size_at(line, 5)) m.figures[key + "_size"] = size->bytes;
  } else if (line.substr(0, 6) == "Shape:" || line.substr(0, 24) == "Entry Parameter Subshape") {
    m.details[key + "_shape"] = std::string(trim(line.substr(line.find(':') + 1)));
  }
}

// The dump after the message; returns the line after it.
size_t read_dump(Input input, size_t line, ParsedMessage& m) {
  int buffer = 0;
  size_t end = std::min(input.lines.size(), line + kMaxDumpLines);
  for (; line < end; ++line) {
    const std::string& raw = input.lines[line];
    std::string_view text = trim(raw);
    bool indented = !raw.empty() && raw[0] == ' ';
    bool header = text.substr(0, 16) == "BufferAssignment" || text == "Peak buffers:";
    if (!text.empty() && !indented && !header) break;
    if (exhausted(raw)) break;
    input.used[line] = true;
    if (text.substr(0, 7) == "Buffer " && text.back() == ':') {
      buffer = static_cast<int>(integer_at(text, 7).value_or(0));
    } else if (buffer > 0) {
      read_buffer_line(text, buffer, m);
    } else {
      read_stat(text, m);
    }
  }
  return line;
}

}  // namespace

void find_jax_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line]) continue;
    std::optional<ParsedMessage> message = parse_line(input.lines[line], line);
    if (!message) continue;
    input.used[line] = true;
    size_t next = read_dump(input, line + 1, *message);
    out.push_back(std::move(*message));
    line = next - 1;
  }
}

}  // namespace oomtrace::report::messages
