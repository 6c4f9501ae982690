// Byte sizes as frameworks print them: "2.00 GiB", "12.50 MiB", "0 bytes",
// "25,600,000 bytes", "18.00MiB", "6727663616B", "384.0KiB", "159.69M",
// "67 MB", "1EB".
//
// Units are binary whatever their spelling: frameworks print MiB as "MB"
// (TensorFlow's "with 67 MB memory", vLLM's "GB") or "M" (TensorFlow's
// driver messages). A value rounds to the nearest byte; one beyond
// 2^64 - 1 saturates there (PyTorch prints an unset limit as 2^64 bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace oomtrace::report::messages {

struct SizeToken {
  uint64_t bytes = 0;
  size_t begin = 0;  // the first digit
  size_t end = 0;    // one past the unit
};

// The whole text is one size (spaces around it allowed).
std::optional<uint64_t> parse_size(std::string_view text);

// A size starting at pos, after any spaces.
std::optional<SizeToken> size_at(std::string_view text, size_t pos);
// A size ending just before end, before any spaces.
std::optional<SizeToken> size_ending_at(std::string_view text, size_t end);

// The size right after the first occurrence of marker at or after from.
std::optional<SizeToken> size_after(std::string_view text, std::string_view marker, size_t from = 0);
// The size right before the first occurrence of marker at or after from.
std::optional<SizeToken> size_before(std::string_view text, std::string_view marker, size_t from = 0);

// A plain decimal integer (no grouping) at pos, after any spaces.
std::optional<uint64_t> integer_at(std::string_view text, size_t pos, size_t* end = nullptr);
// The integer right after the first occurrence of marker.
std::optional<uint64_t> integer_after(std::string_view text, std::string_view marker, size_t from = 0);

}  // namespace oomtrace::report::messages
