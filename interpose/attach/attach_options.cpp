#include "interpose/attach/attach_options.h"

#include <cstdlib>

namespace oomtrace::interpose {

bool parse_attach_options(const char* text, AttachOptions& options) {
  std::string all(text);
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string line = all.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    size_t equals = line.find('=');
    if (equals == std::string::npos) return false;
    std::string key = line.substr(0, equals);
    std::string value = line.substr(equals + 1);
    if (key == "dir") {
      options.output_dir = value;
    } else if (key == "python") {
      options.python_dir = value;
    } else if (key == "pid") {
      options.outer_pid = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    }
    // Unknown keys come from a newer command: ignored, so old libraries
    // still attach.
  }
  return !options.output_dir.empty();
}

}  // namespace oomtrace::interpose
