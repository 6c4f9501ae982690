#include "pickle_compose.h"

namespace oomtrace::test::pk {

std::string little_endian(uint64_t value, size_t bytes) {
  std::string out;
  for (size_t i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

std::string none() { return "N"; }

std::string boolean(bool value) { return value ? "\x88" : "\x89"; }

std::string integer(int64_t value) { return "\x8a\x08" + little_endian(static_cast<uint64_t>(value), 8); }

std::string text(std::string_view value) {
  return "X" + little_endian(value.size(), 4) + std::string(value);
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "](";
  for (const std::string& item : items) out += item;
  return out + "e";
}

std::string tuple(const std::vector<std::string>& items) {
  std::string out = "(";
  for (const std::string& item : items) out += item;
  return out + "t";
}

std::string dict(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out = "}(";
  for (const auto& [key, value] : entries) out += key + value;
  return out + "u";
}

std::string remember(const std::string& value, uint8_t slot) { return value + "q" + static_cast<char>(slot); }

std::string recall(uint8_t slot) { return std::string("h") + static_cast<char>(slot); }

std::string pickle(const std::string& value) { return "\x80\x02" + value + "."; }

}  // namespace oomtrace::test::pk
