#include "report/snapshot/torch_frames.h"

#include <string_view>

namespace oomtrace::report {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

const TorchFrame* innermost(const TorchSnapshot& snapshot, TorchStackId stack, bool (*wanted)(const TorchFrame&)) {
  for (uint32_t index : snapshot.stack(stack)) {
    if (wanted(snapshot.frames[index])) return &snapshot.frames[index];
  }
  return nullptr;
}

bool is_program_frame(const TorchFrame& frame) { return is_python_frame(frame) && !is_library_frame(frame); }

bool is_aten_operator(const TorchFrame& frame) { return frame.name.rfind("at::_ops::", 0) == 0; }

// "at::_ops::bmm::redispatch(c10::DispatchKeySet, ...)" -> "at::_ops::bmm"
std::string operator_name(const std::string& name) {
  constexpr size_t kPrefix = std::string_view("at::_ops::").size();
  size_t end = name.find("::", kPrefix);
  return name.substr(0, end);
}

}  // namespace

bool is_python_frame(const TorchFrame& frame) {
  std::string_view file = frame.filename;
  return ends_with(file, ".py") || (file.size() > 2 && file.front() == '<' && file.back() == '>');
}

bool is_library_frame(const TorchFrame& frame) {
  std::string_view file = frame.filename;
  return contains(file, "/site-packages/") || contains(file, "/dist-packages/") || contains(file, "/lib/python") ||
         file.rfind("torch/", 0) == 0 || contains(file, "/torch/") || file.rfind("<frozen", 0) == 0;
}

std::string frame_text(const TorchFrame& frame) {
  return frame.filename + ":" + std::to_string(frame.line) + " in " + frame.name;
}

std::vector<std::string> python_stack(const TorchSnapshot& snapshot, TorchStackId stack, size_t max_frames) {
  std::vector<std::string> lines;
  for (uint32_t index : snapshot.stack(stack)) {
    if (lines.size() == max_frames) break;
    if (is_python_frame(snapshot.frames[index])) lines.push_back(frame_text(snapshot.frames[index]));
  }
  return lines;
}

std::string allocation_site(const TorchSnapshot& snapshot, TorchStackId stack) {
  if (snapshot.stack(stack).empty()) return kNoStackSite;
  if (const TorchFrame* frame = innermost(snapshot, stack, is_program_frame)) return frame_text(*frame);
  if (const TorchFrame* frame = innermost(snapshot, stack, is_python_frame)) return frame_text(*frame);
  if (const TorchFrame* frame = innermost(snapshot, stack, is_aten_operator)) return "C++ " + operator_name(frame->name);
  return kNoPythonFrameSite;
}

}  // namespace oomtrace::report
