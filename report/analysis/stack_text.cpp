#include "report/analysis/stack_text.h"

#include <cstdio>

namespace oomtrace::report {
namespace {

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

std::string describe_frame(const trace::FrameInfo& frame) {
  if (!frame.symbol.empty()) {
    std::string line = frame.symbol + "+" + hex(frame.offset);
    if (!frame.module.empty()) line += " (" + frame.module + ")";
    return line;
  }
  if (frame.module.empty()) return hex(frame.address);
  return hex(frame.address) + " (" + frame.module + "+" + hex(frame.offset) + ")";
}

std::vector<std::string> describe_stack(const trace::Trace& trace, uint32_t stack_id) {
  std::vector<std::string> lines;
  if (stack_id == 0) return lines;
  auto stack = trace.stacks.find(stack_id);
  if (stack == trace.stacks.end()) return lines;
  lines.reserve(stack->second.frames.size());
  for (uint32_t frame_id : stack->second.frames) {
    auto frame = trace.frames.find(frame_id);
    // A frame record lost to a crash between the stack and its frames.
    lines.push_back(frame == trace.frames.end() ? "frame " + std::to_string(frame_id) + " (unresolved)"
                                                : describe_frame(frame->second));
  }
  return lines;
}

}  // namespace oomtrace::report
