// The text arguments of pickle's protocol-0 opcodes, decoded without Python:
// numbers written on a line, STRING's quoted escapes (codecs.escape_decode)
// and UNICODE's raw-unicode-escape. Pure functions on bounded input: each
// returns nullopt on malformed text instead of guessing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oomtrace::report {

// An optional sign then decimal digits only.
bool is_decimal_integer(std::string_view text);
// The value of is_decimal_integer text; nullopt when it is not one or does
// not fit in 64 bits (tell the two apart with is_decimal_integer).
std::optional<int64_t> parse_int64(std::string_view text);
// Digits only (memo indices).
std::optional<uint64_t> parse_uint64(std::string_view text);
// What Python's float() reads from a pickle: "1.5", "-2e-07", "inf", "nan".
std::optional<double> parse_float_text(std::string_view text);

// The bytes inside STRING's quotes, with \\ \' \" \a \b \f \n \r \t \v,
// \xHH and octal escapes resolved; any other backslash is kept as Python does.
std::optional<std::string> decode_escapes(std::string_view text);
// raw-unicode-escape to UTF-8: \uXXXX and \UXXXXXXXX are code points, every
// other byte is Latin-1. Lone surrogates become U+FFFD.
std::optional<std::string> decode_raw_unicode_escape(std::string_view text);

void append_utf8(std::string& out, uint32_t code_point);

}  // namespace oomtrace::report
