#include "report/analysis/stack_text.h"

#include <cstdio>

namespace oomtrace::report {
namespace {

std::string hex(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
  return text;
}

std::string file_name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The recorded module holding a return address (the call before it).
const trace::ModuleInfo* module_of(const trace::Trace& trace, uint64_t address) {
  for (const trace::ModuleInfo& module : trace.modules) {
    if (address - 1 >= module.start && address - 1 < module.end) return &module;
  }
  return nullptr;
}

void append_frame_lines(const trace::Trace& trace, const trace::FrameInfo& frame, FrameSymbolizer* symbolizer,
                        std::vector<std::string>& lines) {
  const trace::ModuleInfo* module = symbolizer && frame.address > 0 ? module_of(trace, frame.address) : nullptr;
  std::vector<SourceFrame> source = module ? symbolizer->symbolize(*module, frame.address) : std::vector<SourceFrame>{};
  if (source.empty()) {
    lines.push_back(describe_frame(frame));
    return;
  }
  std::string module_name = file_name_of(module->path);
  for (const SourceFrame& entry : source) lines.push_back(describe_source_frame(entry, frame.address, module_name));
}

}  // namespace

std::string describe_source_frame(const SourceFrame& frame, uint64_t address, const std::string& module_name) {
  std::string line = frame.function.empty() ? hex(address) : frame.function;
  if (!frame.file.empty()) {
    line += " at " + frame.file + ":" + std::to_string(frame.line);
  } else if (frame.symbol_offset) {
    line += "+" + hex(*frame.symbol_offset);
  }
  line += " (" + module_name + ")";
  if (frame.inlined) line += kInlinedMark;
  return line;
}

std::string describe_frame(const trace::FrameInfo& frame) {
  if (!frame.symbol.empty()) {
    std::string line = frame.symbol + "+" + hex(frame.offset);
    if (!frame.module.empty()) line += " (" + frame.module + ")";
    return line;
  }
  if (frame.module.empty()) return hex(frame.address);
  return hex(frame.address) + " (" + frame.module + "+" + hex(frame.offset) + ")";
}

std::vector<std::string> describe_stack(const trace::Trace& trace, uint32_t stack_id,
                                        FrameSymbolizer* symbolizer) {
  std::vector<std::string> lines;
  if (stack_id == 0) return lines;
  auto stack = trace.stacks.find(stack_id);
  if (stack == trace.stacks.end()) return lines;
  lines.reserve(stack->second.frames.size());
  for (uint32_t frame_id : stack->second.frames) {
    auto frame = trace.frames.find(frame_id);
    // A frame record lost to a crash between the stack and its frames.
    if (frame == trace.frames.end()) {
      lines.push_back("frame " + std::to_string(frame_id) + " (unresolved)");
    } else {
      append_frame_lines(trace, frame->second, symbolizer, lines);
    }
  }
  return lines;
}

}  // namespace oomtrace::report
