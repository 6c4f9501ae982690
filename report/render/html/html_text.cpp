#include "report/render/html/html_text.h"

#include <cmath>
#include <cstdio>

namespace oomtrace::report::html {

std::string escape_html(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;
        escaped += c;
    }
  }
  return escaped;
}

std::string svg_number(double value) {
  if (!std::isfinite(value)) value = 0;
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", value);
  std::string number = text;
  // 12.50 -> 12.5, 12.00 -> 12: the page is smaller and reads the same.
  while (number.back() == '0') number.pop_back();
  if (number.back() == '.') number.pop_back();
  return number == "-0" ? "0" : number;
}

std::string format_seconds(uint64_t time_ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(time_ns) / 1e9);
  return text;
}

std::string format_axis_time(uint64_t time_ns, uint64_t span_ns) {
  double t = static_cast<double>(time_ns);
  char text[32];
  if (span_ns >= 10'000'000'000ULL) {
    std::snprintf(text, sizeof text, "%.0f s", t / 1e9);
  } else if (span_ns >= 1'000'000'000ULL) {
    std::snprintf(text, sizeof text, "%.2f s", t / 1e9);
  } else if (span_ns >= 1'000'000ULL) {
    std::snprintf(text, sizeof text, "%.1f ms", t / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.0f us", t / 1e3);
  }
  return text;
}

}  // namespace oomtrace::report::html
