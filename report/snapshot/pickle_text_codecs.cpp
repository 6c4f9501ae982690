#include "report/snapshot/pickle_text_codecs.h"

#include <charconv>
#include <cctype>

#include "allocator/decimal_from_chars.h"

namespace oomtrace::report {
namespace {

std::optional<uint32_t> hex_value(std::string_view digits) {
  uint32_t value = 0;
  for (char c : digits) {
    int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                            : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + static_cast<uint32_t>(digit);
  }
  return value;
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// The character a one-letter escape stands for, or 0 when the letter is not
// one of Python's escapes.
char simple_escape(char letter) {
  switch (letter) {
    case '\\': return '\\';
    case '\'': return '\'';
    case '"': return '"';
    case 'a': return '\a';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'v': return '\v';
    default: return 0;
  }
}

}  // namespace

bool is_decimal_integer(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::optional<int64_t> parse_int64(std::string_view text) {
  if (!is_decimal_integer(text)) return std::nullopt;
  if (text[0] == '+') text.remove_prefix(1);  // from_chars takes no '+'
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> parse_uint64(std::string_view text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_float_text(std::string_view text) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, error] = decimal_from_chars(text.data(), text.data() + text.size(), value);
  // Out of range still has a value Python would give (inf or 0): keep it.
  if (error == std::errc::invalid_argument || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> decode_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      if (text[i] == '\\') return std::nullopt;  // a trailing lone backslash
      out += text[i];
      continue;
    }
    char letter = text[++i];
    if (char plain = simple_escape(letter)) {
      out += plain;
    } else if (letter == 'x') {
      std::optional<uint32_t> value = i + 2 < text.size() ? hex_value(text.substr(i + 1, 2)) : std::nullopt;
      if (!value) return std::nullopt;
      out += static_cast<char>(*value);
      i += 2;
    } else if (is_octal(letter)) {
      uint32_t value = static_cast<uint32_t>(letter - '0');
      for (int more = 0; more < 2 && i + 1 < text.size() && is_octal(text[i + 1]); ++more) {
        value = value * 8 + static_cast<uint32_t>(text[++i] - '0');
      }
      out += static_cast<char>(value & 0xff);
    } else {
      out += '\\';
      out += letter;
    }
  }
  return out;
}

std::optional<std::string> decode_raw_unicode_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    bool escape = text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'u' || text[i + 1] == 'U');
    if (!escape) {
      append_utf8(out, static_cast<unsigned char>(text[i]));
      continue;
    }
    size_t digits = text[i + 1] == 'u' ? 4 : 8;
    if (i + 2 + digits > text.size()) return std::nullopt;
    std::optional<uint32_t> code_point = hex_value(text.substr(i + 2, digits));
    if (!code_point || *code_point > 0x10ffff) return std::nullopt;
    append_utf8(out, *code_point);
    i += 1 + digits;
  }
  return out;
}

void append_utf8(std::string& out, uint32_t code_point) {
  if (code_point >= 0xd800 && code_point <= 0xdfff) code_point = 0xfffd;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xc0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xe0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  }
}

}  // namespace oomtrace::report
