#include "report/messages/sizes.h"

#include <array>
#include <cctype>
#include <string>

namespace oomtrace::report::messages {
namespace {

using u128 = unsigned __int128;

constexpr size_t kMaxFractionDigits = 18;
constexpr size_t kMaxIntegerDigits = 20;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

struct Unit {
  std::string_view name;
  int power;  // of 1024
};

constexpr std::array<Unit, 22> kUnits = {{
    {"bytes", 0}, {"byte", 0}, {"B", 0},
    {"KiB", 1},   {"KB", 1},   {"kB", 1}, {"K", 1},
    {"MiB", 2},   {"MB", 2},   {"M", 2},
    {"GiB", 3},   {"GB", 3},   {"G", 3},
    {"TiB", 4},   {"TB", 4},   {"T", 4},
    {"PiB", 5},   {"PB", 5},   {"P", 5},
    {"EiB", 6},   {"EB", 6},   {"E", 6},
}};

std::optional<int> unit_power(std::string_view name) {
  for (const Unit& unit : kUnits) {
    if (unit.name == name) return unit.power;
  }
  return std::nullopt;
}

struct Number {
  u128 digits = 0;          // every digit, the fraction's included
  size_t fraction_digits = 0;
  size_t end = 0;
};

// "25,600,000" groups by three; a comma followed by anything else ends the
// number ("(2 root errors), ...").
bool grouping_comma(std::string_view text, size_t at) {
  if (at + 3 >= text.size()) return false;
  for (size_t i = 1; i <= 3; ++i) {
    if (!is_digit(text[at + i])) return false;
  }
  return at + 4 >= text.size() || !is_digit(text[at + 4]);
}

std::optional<Number> number_at(std::string_view text, size_t pos) {
  Number number;
  size_t integer_digits = 0;
  size_t i = pos;
  while (i < text.size() && (is_digit(text[i]) || (text[i] == ',' && integer_digits > 0 && grouping_comma(text, i)))) {
    if (text[i] != ',') {
      if (++integer_digits > kMaxIntegerDigits) return std::nullopt;
      number.digits = number.digits * 10 + static_cast<unsigned>(text[i] - '0');
    }
    ++i;
  }
  if (integer_digits == 0) return std::nullopt;
  if (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
    ++i;
    while (i < text.size() && is_digit(text[i])) {
      if (number.fraction_digits < kMaxFractionDigits) {
        number.digits = number.digits * 10 + static_cast<unsigned>(text[i] - '0');
        ++number.fraction_digits;
      }
      ++i;
    }
  }
  number.end = i;
  return number;
}

uint64_t to_bytes(const Number& number, int power) {
  u128 scale = 1;
  for (size_t i = 0; i < number.fraction_digits; ++i) scale *= 10;
  u128 multiplier = static_cast<u128>(1) << (10 * power);
  // digits < 10^38 / 2^60 cannot overflow 128 bits: at most 20 integer and
  // 18 fraction digits were kept, and a larger product saturates below.
  u128 limit = ~static_cast<u128>(0) / multiplier;
  if (number.digits > limit) return UINT64_MAX;
  u128 bytes = (number.digits * multiplier + scale / 2) / scale;
  return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

size_t skip_spaces(std::string_view text, size_t pos) {
  while (pos < text.size() && text[pos] == ' ') ++pos;
  return pos;
}

}  // namespace

std::optional<SizeToken> size_at(std::string_view text, size_t pos) {
  size_t begin = skip_spaces(text, pos);
  std::optional<Number> number = number_at(text, begin);
  if (!number) return std::nullopt;
  size_t unit_begin = number->end;
  if (unit_begin < text.size() && text[unit_begin] == ' ') ++unit_begin;
  size_t unit_end = unit_begin;
  while (unit_end < text.size() && is_letter(text[unit_end])) ++unit_end;
  std::optional<int> power = unit_power(text.substr(unit_begin, unit_end - unit_begin));
  if (!power) return std::nullopt;
  return SizeToken{to_bytes(*number, *power), begin, unit_end};
}

std::optional<SizeToken> size_ending_at(std::string_view text, size_t end) {
  size_t unit_end = std::min(end, text.size());
  while (unit_end > 0 && text[unit_end - 1] == ' ') --unit_end;
  size_t unit_begin = unit_end;
  while (unit_begin > 0 && is_letter(text[unit_begin - 1])) --unit_begin;
  if (unit_begin == unit_end) return std::nullopt;
  size_t number_end = unit_begin;
  if (number_end > 0 && text[number_end - 1] == ' ') --number_end;
  size_t begin = number_end;
  while (begin > 0 && (is_digit(text[begin - 1]) || text[begin - 1] == ',' || text[begin - 1] == '.')) --begin;
  while (begin < number_end && !is_digit(text[begin])) ++begin;  // a stray leading "." or ","
  std::optional<SizeToken> token = size_at(text, begin);
  if (!token || token->end != unit_end) return std::nullopt;
  return token;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  std::optional<SizeToken> token = size_at(text, 0);
  if (!token || skip_spaces(text, token->end) != text.size()) return std::nullopt;
  return token->bytes;
}

std::optional<SizeToken> size_after(std::string_view text, std::string_view marker, size_t from) {
  size_t at = text.find(marker, from);
  if (at == std::string_view::npos) return std::nullopt;
  return size_at(text, at + marker.size());
}

std::optional<SizeToken> size_before(std::string_view text, std::string_view marker, size_t from) {
  size_t at = text.find(marker, from);
  if (at == std::string_view::npos) return std::nullopt;
  return size_ending_at(text, at);
}

std::optional<uint64_t> integer_at(std::string_view text, size_t pos, size_t* end) {
  size_t i = skip_spaces(text, pos);
  size_t begin = i;
  u128 value = 0;
  while (i < text.size() && is_digit(text[i]) && i - begin < kMaxIntegerDigits) {
    value = value * 10 + static_cast<unsigned>(text[i] - '0');
    ++i;
  }
  if (i == begin || value > UINT64_MAX) return std::nullopt;
  if (end) *end = i;
  return static_cast<uint64_t>(value);
}

std::optional<uint64_t> integer_after(std::string_view text, std::string_view marker, size_t from) {
  size_t at = text.find(marker, from);
  if (at == std::string_view::npos) return std::nullopt;
  return integer_at(text, at + marker.size());
}

}  // namespace oomtrace::report::messages
