// Paragraph filling for the text report, so long explanations stay readable
// in an 80-column terminal.
#pragma once

#include <string>

namespace oomtrace::report {

// Breaks text at spaces so no line exceeds width (a single longer word gets
// its own line). The first line starts with first_prefix, later lines with
// as many spaces; every line ends with a newline.
std::string wrap(const std::string& text, const std::string& first_prefix, size_t width = 80);

}  // namespace oomtrace::report
