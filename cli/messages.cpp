#include "cli/messages.h"

#include <cstdio>

namespace oomtrace::cli {
namespace {

// Errors quote file names and parser messages that may hold newlines; the
// promise is one line, so fold them.
std::string one_line(const std::string& text) {
  std::string line;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!line.empty() && line.back() != ' ') line += "; ";
    } else {
      line += c;
    }
  }
  while (!line.empty() && (line.back() == ' ' || line.back() == ';')) line.pop_back();
  return line;
}

}  // namespace

void print_error(const std::string& message) {
  std::fprintf(stderr, "oomtrace: error: %s\n", one_line(message).c_str());
}

void print_note(const std::string& message) {
  std::fprintf(stderr, "oomtrace: %s\n", one_line(message).c_str());
}

}  // namespace oomtrace::cli
