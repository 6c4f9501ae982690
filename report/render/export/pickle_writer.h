// Writes a Python pickle (protocol 4) of plain data, as a stream: the caller
// opens and closes containers in order and nothing is kept but the bytes,
// so a pickle of millions of entries costs its own size in memory.
//
// Only opcodes that build None, bools, integers, floats, strings, lists,
// tuples and dicts are written, so the result loads with Python's pickle,
// with torch.load-style restricted loaders, and with oomtrace's own reader
// (report/snapshot/pickle_reader.h). Repeated strings and shared subtrees
// are written once and referred to through the memo, as Python's own
// pickler does.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace oomtrace::report {

class PickleWriter {
 public:
  PickleWriter();

  // Containers: begin, the items (for a dict: key, value, key, value...),
  // end. The caller keeps them balanced; finish() checks.
  void begin_dict();
  void end_dict();
  void begin_list();
  void end_list();
  void begin_tuple();
  void end_tuple();

  void none();
  void boolean(bool value);
  void integer(int64_t value);
  void unsigned_integer(uint64_t value);  // above INT64_MAX as well
  void floating(double value);
  void text(std::string_view value);
  // A string that recurs (dict keys, enum-like values): written once, then
  // fetched from the memo, which takes 2 to 5 bytes instead of the string.
  void repeated_text(std::string_view value);

  // Shared subtrees: remember() tags the value just completed (on top of
  // the stack) and returns its memo index; recall() pushes it again.
  uint32_t remember();
  void recall(uint32_t memo_index);

  // The finished pickle; empty when containers were left open or closed
  // twice (a bug in the caller, never in the data).
  std::string finish();

 private:
  void opcode(uint8_t op) { bytes_.push_back(static_cast<char>(op)); }
  void little_endian(uint64_t value, int bytes);
  void open_container(uint8_t empty_op);
  void close_container(uint8_t append_op);

  std::string bytes_;
  // Looked up by string_view, so a repeated key costs no allocation.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, uint32_t, TextHash, std::equal_to<>> memoized_text_;
  uint32_t memo_size_ = 0;
  int64_t open_containers_ = 0;
  bool unbalanced_ = false;
};

}  // namespace oomtrace::report
