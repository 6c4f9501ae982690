#include "report/render/stack_folding.h"

#include <algorithm>
#include <cctype>

namespace oomtrace::report {
namespace {

constexpr std::string_view kInlined = " [inlined]";
constexpr size_t kShortestRunFolded = 2;  // one frame reads as well as a line about it

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "python3", "python3.12", "python": the interpreter's own executable.
bool is_python_executable(std::string_view name) {
  if (!starts_with(name, "python")) return false;
  std::string_view rest = name.substr(6);
  return std::all_of(rest.begin(), rest.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

std::string folded_line(size_t count, const std::vector<std::string>& modules) {
  std::string line = "... " + std::to_string(count) + " frames in ";
  for (size_t i = 0; i < modules.size(); ++i) line += (i ? ", " : "") + modules[i];
  return line;
}

}  // namespace

std::string frame_module_name(std::string_view line) {
  if (line.size() >= kInlined.size() && line.substr(line.size() - kInlined.size()) == kInlined) {
    line.remove_suffix(kInlined.size());
  }
  if (line.empty() || line.back() != ')') return {};
  size_t open = line.rfind(" (");
  if (open == std::string_view::npos) return {};
  std::string_view inside = line.substr(open + 2, line.size() - open - 3);
  size_t offset = inside.rfind("+0x");
  if (offset != std::string_view::npos) inside = inside.substr(0, offset);
  size_t slash = inside.rfind('/');
  if (slash != std::string_view::npos) inside = inside.substr(slash + 1);
  return std::string(inside);
}

bool is_plumbing_module(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {
      "libcuda.", "libcudart", "libcublas", "libcudnn", "libnccl", "liboomtrace", "libnvidia-ml", "libcupti",
      "libc.so", "libc-", "libstdc++", "libgcc_s", "ld-linux", "libpthread", "libdl.", "libpython",
  };
  for (std::string_view prefix : kPrefixes) {
    if (starts_with(name, prefix)) return true;
  }
  return is_python_executable(name);
}

std::string first_program_frame(const std::vector<std::string>& stack) {
  for (const std::string& frame : stack) {
    std::string module = frame_module_name(frame);
    if (module.empty() || !is_plumbing_module(module)) return frame;
  }
  return stack.empty() ? std::string() : stack.front();
}

std::vector<std::string> fold_plumbing_frames(const std::vector<std::string>& stack) {
  std::vector<std::string> folded;
  size_t i = 0;
  while (i < stack.size()) {
    size_t end = i;
    std::vector<std::string> modules;
    while (end < stack.size()) {
      std::string module = frame_module_name(stack[end]);
      if (module.empty() || !is_plumbing_module(module)) break;
      if (std::find(modules.begin(), modules.end(), module) == modules.end()) modules.push_back(module);
      ++end;
    }
    if (end - i >= kShortestRunFolded) {
      folded.push_back(folded_line(end - i, modules));
      i = end;
    } else {
      folded.push_back(stack[i]);
      ++i;
    }
  }
  return folded;
}

}  // namespace oomtrace::report
