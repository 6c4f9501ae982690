// Out-of-memory errors with no figures but the error itself, from any
// program: PyTorch 0.x's THC ("THCudaCheck FAIL file=... line=66 error=2 :
// out of memory", "cuda runtime error (2) : out of memory at ..."), PyTorch's
// "CUDA error: out of memory" (a CUDA call outside the caching allocator),
// CuPy's "cudaErrorMemoryAllocation: out of memory", and a program's own
// "CUDA Runtime Error at: file.cu:83" followed by "out of memory cudaMalloc(...)".
// Adjacent lines of one error make one message.
#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

bool is_error_line(const std::string& line) {
  if (contains(line, "cudaErrorMemoryAllocation") || contains(line, "CUDA_ERROR_OUT_OF_MEMORY") ||
      contains(line, "hipErrorOutOfMemory")) {
    return true;
  }
  if (!contains(line, "out of memory")) return false;
  for (const char* marker :
       {"CUDA error", "cuda runtime error", "THCudaCheck", "cudaMalloc", "HIP error", "hipMalloc"}) {
    if (contains(line, marker)) return true;
  }
  return false;
}

// A program's own report puts the location on the line before.
bool is_location_line(const std::string& line) { return contains(line, "CUDA Runtime Error at: "); }

std::string framework_of(const std::string& text) {
  if (contains(text, "cupy")) return "cupy";
  if (contains(text, "HIP error")) return "pytorch-rocm";
  if (contains(text, "THCudaCheck") || contains(text, "cuda runtime error (") ||
      contains(text, "RuntimeError: CUDA error")) {
    return "pytorch";
  }
  return "cuda";
}

void read_line(const std::string& line, ParsedMessage& m) {
  std::string_view text = line;
  if (size_t at = text.find("THCudaCheck FAIL file="); at != std::string_view::npos) {
    size_t end = text.find(' ', at + 22);
    std::string file(text.substr(at + 22, end - at - 22));
    std::optional<uint64_t> number = integer_after(text, " line=");
    m.details["location"] = file + (number ? ":" + std::to_string(*number) : "");
    if (auto code = integer_after(text, " error=")) m.figures["cuda_error_code"] = *code;
    if (contains(file, "HostAllocator")) m.device = -1;
  }
  if (auto code = integer_after(text, "cuda runtime error (")) {
    m.figures["cuda_error_code"] = *code;
    if (size_t at = text.find(" : out of memory at "); at != std::string_view::npos) {
      m.details["location"] = std::string(trim(text.substr(at + 20)));
    }
  }
  if (size_t at = text.find("CUDA Runtime Error at: "); at != std::string_view::npos) {
    m.details["location"] = std::string(trim(text.substr(at + 23)));
  }
  if (size_t at = text.find("out of memory cuda"); at != std::string_view::npos) {
    m.details["call"] = std::string(trim(text.substr(at + 14)));
  }
  for (const char* error : {"cudaErrorMemoryAllocation", "CUDA_ERROR_OUT_OF_MEMORY", "hipErrorOutOfMemory"}) {
    if (contains(line, error)) m.details["cuda_error"] = error;
  }
  if (!m.details.count("cuda_error") && contains(line, "out of memory")) m.details["cuda_error"] = "out of memory";
}

}  // namespace

void find_raw_cuda_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line]) continue;
    bool location_first = is_location_line(input.lines[line]) && line + 1 < input.lines.size() &&
                          !input.used[line + 1] && contains(input.lines[line + 1], "out of memory");
    if (!location_first && !is_error_line(input.lines[line])) continue;
    ParsedMessage m;
    m.variant = "raw-cuda";
    m.line = line;
    size_t end = line;
    while (end < input.lines.size() && !input.used[end] &&
           (end == line || is_error_line(input.lines[end]) || (location_first && end == line + 1))) {
      read_line(input.lines[end], m);
      m.text += (m.text.empty() ? "" : " ") + collapse_spaces(input.lines[end]);
      input.used[end] = true;
      ++end;
    }
    m.framework = framework_of(m.text);
    out.push_back(std::move(m));
    line = end - 1;
  }
}

}  // namespace oomtrace::report::messages
