// Internal to the pickle reader: builds a PickleDocument while keeping its
// promises (no cycles, bounded depth, bounded values and text), so the
// opcode machine in pickle_reader.cpp only decodes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "report/snapshot/pickle_reader.h"

namespace oomtrace::report {

// Thrown inside the reader only; parse_pickle turns it into its one line.
struct PickleError {
  enum class Kind { Refused, Malformed, OverLimit };
  Kind kind;
  std::string message;
};

[[noreturn]] void throw_malformed(std::string message);

class PickleBuilder {
 public:
  // The limits scale with the input: an honest pickle never reaches them.
  explicit PickleBuilder(size_t input_size);

  uint32_t none() const { return 0; }
  uint32_t boolean(bool value) const { return value ? 2 : 1; }
  uint32_t integer(int64_t value);
  uint32_t real(double value);
  uint32_t text(PickleKind kind, std::string_view bytes);  // String or Bytes
  uint32_t container(PickleKind kind);                     // empty List, Tuple, Dict or Set

  // Into a list, tuple or set that is not frozen; freezes the item.
  void add(uint32_t container, uint32_t item);
  // Into a dict that is not frozen; freezes key and value.
  void add_entry(uint32_t dict, uint32_t key, uint32_t value);

  PickleKind kind(uint32_t id) const { return document_.nodes_[id].kind; }
  std::string_view text_of(uint32_t id) const;  // "" unless String or Bytes
  uint64_t value_limit() const { return max_values_; }

  PickleDocument finish(uint32_t root);

 private:
  uint32_t add_node(PickleDocument::Node node);
  void place(uint32_t container, uint32_t item);

  PickleDocument document_;
  uint64_t max_values_;
  uint64_t max_text_;
};

}  // namespace oomtrace::report
