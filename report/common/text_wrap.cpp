#include "report/common/text_wrap.h"

#include <sstream>

namespace oomtrace::report {

std::string wrap(const std::string& text, const std::string& first_prefix, size_t width) {
  std::string indent(first_prefix.size(), ' ');
  std::string out = first_prefix;
  size_t line_length = first_prefix.size();
  bool line_empty = true;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    if (!line_empty && line_length + 1 + word.size() > width) {
      out += "\n" + indent;
      line_length = indent.size();
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++line_length;
    }
    out += word;
    line_length += word.size();
    line_empty = false;
  }
  return out + "\n";
}

}  // namespace oomtrace::report
