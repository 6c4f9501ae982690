// Pickles written opcode by opcode for tests (protocol 2), so a test shows
// the exact data it feeds the reader: pickle(dict({{text("a"), integer(1)}}))
// is Python's pickle.dumps({"a": 1}, 2) less the memo. Each helper returns
// the opcodes that push one value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oomtrace::test::pk {

std::string none();
std::string boolean(bool value);
std::string integer(int64_t value);  // LONG1 with 8 bytes: any int64
std::string text(std::string_view value);  // BINUNICODE
std::string list(const std::vector<std::string>& items);
std::string tuple(const std::vector<std::string>& items);
std::string dict(const std::vector<std::pair<std::string, std::string>>& entries);
// The value, then stored in memo slot `slot` (BINPUT), still on the stack.
std::string remember(const std::string& value, uint8_t slot);
std::string recall(uint8_t slot);  // BINGET
// PROTO 2, the value, STOP.
std::string pickle(const std::string& value);

std::string little_endian(uint64_t value, size_t bytes);

}  // namespace oomtrace::test::pk
