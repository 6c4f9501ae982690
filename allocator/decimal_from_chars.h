// std::from_chars for a double (chars_format::general), for code linked into
// liboomtrace.so: libstdc++ has the floating-point overloads only from
// GLIBCXX_3.4.29 (GCC 11), past the library's baseline (GLIBCXX_3.4.25,
// interpose/CMakeLists.txt). Same contract: an optional '-', then decimal
// digits with an optional point and exponent, or inf, infinity, nan or
// nan(chars), any case; no blanks, no '+', no hexadecimal; the longest such
// prefix is read, rounded correctly, in the C locale whatever the program's.
// Out of range leaves `value` untouched. errno is left as it was.
// tests/unit/portable_text_test.cpp compares it with std::from_chars.
#pragma once

#include <cerrno>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <locale.h>
#include <string>
#include <system_error>

namespace oomtrace {

namespace decimal_from_chars_detail {

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `word` (lower case) at `at`, in any case.
inline bool starts_with_word(const char* at, const char* last, const char* word) {
  for (; *word; ++word, ++at) {
    if (at == last || (*at | 0x20) != *word) return false;
  }
  return true;
}

inline locale_t c_locale() {
  static const locale_t locale = ::newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  return locale;
}

}  // namespace decimal_from_chars_detail

inline std::from_chars_result decimal_from_chars(const char* first, const char* last, double& value) {
  using namespace decimal_from_chars_detail;
  const char* at = first;
  if (at != last && *at == '-') ++at;
  const char* end = nullptr;
  if (starts_with_word(at, last, "inf")) {
    end = starts_with_word(at, last, "infinity") ? at + 8 : at + 3;
  } else if (starts_with_word(at, last, "nan")) {
    end = at + 3;
    if (end != last && *end == '(') {
      const char* close = end + 1;
      while (close != last && (is_digit(*close) || *close == '_' || ((*close | 0x20) >= 'a' && (*close | 0x20) <= 'z'))) {
        ++close;
      }
      if (close != last && *close == ')') end = close + 1;
    }
  } else {
    const char* scan = at;
    size_t digits = 0;
    for (; scan != last && is_digit(*scan); ++scan) ++digits;
    if (scan != last && *scan == '.') {
      ++scan;
      for (; scan != last && is_digit(*scan); ++scan) ++digits;
    }
    if (digits == 0) return {first, std::errc::invalid_argument};
    end = scan;
    if (scan != last && (*scan == 'e' || *scan == 'E')) {
      const char* exponent = scan + 1;
      if (exponent != last && (*exponent == '+' || *exponent == '-')) ++exponent;
      const char* exponent_digits = exponent;
      while (exponent != last && is_digit(*exponent)) ++exponent;
      if (exponent != exponent_digits) end = exponent;  // "1e" reads as "1"
    }
  }
  // What remains is what strtod reads in full: a terminated copy of it.
  std::string text(first, end);
  int saved_errno = errno;
  errno = 0;
  locale_t locale = c_locale();
  double parsed = locale ? ::strtod_l(text.c_str(), nullptr, locale) : std::strtod(text.c_str(), nullptr);
  bool out_of_range = errno == ERANGE && (parsed == 0 || std::isinf(parsed));  // a subnormal is in range
  errno = saved_errno;
  if (out_of_range) return {end, std::errc::result_out_of_range};
  value = parsed;
  return {end, std::errc()};
}

}  // namespace oomtrace
