// Internal to torch_snapshot.cpp: typed reads of pickle values with errors
// that say where in the snapshot the bad value sits, and the work budget
// that keeps shared (memoized) parts from being read without end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "report/snapshot/pickle_reader.h"

namespace oomtrace::report::torch_fields {

// Thrown inside the snapshot reader only; read_torch_snapshot turns it into
// its one-line error.
struct SnapshotError {
  std::string message;
};

// Where a value sits ("segments[3].blocks[2].size"). Lives on the stack as
// the reader descends; turned into text only for an error.
class Where {
 public:
  Where() = default;
  Where at(std::string_view key) const { return Where(this, key, 0, false); }
  Where at(size_t index) const { return Where(this, {}, index, true); }
  std::string text() const;

 private:
  Where(const Where* parent, std::string_view key, size_t index, bool is_index)
      : parent_(parent), key_(key), index_(index), is_index_(is_index) {}

  const Where* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = 0;
  bool is_index_ = false;
};

[[noreturn]] void fail(const Where& where, const std::string& problem);

// A value from the snapshot quoted in an error: printable ASCII, at most 40
// characters, so the error stays one readable line whatever the input.
std::string quoted(std::string_view text);

// Every dict entry and list item read is paid for; the budget is a multiple
// of the references the pickle holds, which an honest snapshot never
// exceeds, while a pickle that shares one big part many times does.
class WorkBudget {
 public:
  explicit WorkBudget(uint64_t units) : left_(units) {}
  void spend(uint64_t units);

 private:
  uint64_t left_;
};

void expect(PickleValue value, PickleKind kind, const Where& where);
void expect_sequence(PickleValue value, const Where& where);  // list or tuple
uint64_t read_size(PickleValue value, const Where& where);    // an int >= 0
int64_t read_int(PickleValue value, const Where& where);
int read_small_int(PickleValue value, const Where& where);    // fits in an int (device index)
bool read_bool(PickleValue value, const Where& where);
std::string read_text(PickleValue value, const Where& where);  // a str

// Calls visit(key, value, where_of_value) for each entry of a dict whose key
// is a str (PyTorch writes no other), paying for every entry.
template <typename Visit>
void for_each_field(PickleValue dict, const Where& where, WorkBudget& budget, Visit&& visit) {
  expect(dict, PickleKind::Dict, where);
  budget.spend(dict.size());
  for (size_t i = 0; i < dict.size(); ++i) {
    PickleValue key = dict.key(i);
    if (!key.is(PickleKind::String)) continue;
    visit(key.as_text(), dict.value(i), where.at(key.as_text()));
  }
}

}  // namespace oomtrace::report::torch_fields
