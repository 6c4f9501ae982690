#include "report/snapshot/torch_snapshot_fields.h"

#include <climits>
#include <vector>

namespace oomtrace::report::torch_fields {

std::string Where::text() const {
  std::vector<const Where*> chain;
  for (const Where* step = this; step != nullptr && step->parent_ != nullptr; step = step->parent_) chain.push_back(step);
  std::string path;
  for (auto step = chain.rbegin(); step != chain.rend(); ++step) {
    if ((*step)->is_index_) {
      path += "[" + std::to_string((*step)->index_) + "]";
    } else {
      if (!path.empty()) path += ".";
      for (char c : (*step)->key_.substr(0, 60)) path += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
  }
  return path.empty() ? "the snapshot" : path;
}

void fail(const Where& where, const std::string& problem) {
  throw SnapshotError{where.text() + ": " + problem};
}

std::string quoted(std::string_view text) {
  constexpr size_t kShown = 40;
  std::string out = "\"";
  for (char c : text.substr(0, kShown)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + (text.size() > kShown ? "...\"" : "\"");
}

void WorkBudget::spend(uint64_t units) {
  if (units > left_) {
    throw SnapshotError{"the pickle shares parts of itself so often that reading them all would take "
                        "far more work than its size allows"};
  }
  left_ -= units;
}

void expect(PickleValue value, PickleKind kind, const Where& where) {
  if (!value.is(kind)) {
    fail(where, std::string("expected ") + pickle_kind_name(kind) + ", found " + pickle_kind_name(value.kind()));
  }
}

void expect_sequence(PickleValue value, const Where& where) {
  if (!value.is(PickleKind::List) && !value.is(PickleKind::Tuple)) {
    fail(where, std::string("expected list, found ") + pickle_kind_name(value.kind()));
  }
}

int64_t read_int(PickleValue value, const Where& where) {
  expect(value, PickleKind::Int, where);
  return value.as_int();
}

uint64_t read_size(PickleValue value, const Where& where) {
  int64_t number = read_int(value, where);
  if (number < 0) fail(where, "is negative (" + std::to_string(number) + ")");
  return static_cast<uint64_t>(number);
}

int read_small_int(PickleValue value, const Where& where) {
  int64_t number = read_int(value, where);
  if (number < INT_MIN || number > INT_MAX) fail(where, "is out of range (" + std::to_string(number) + ")");
  return static_cast<int>(number);
}

bool read_bool(PickleValue value, const Where& where) {
  expect(value, PickleKind::Bool, where);
  return value.as_bool();
}

std::string read_text(PickleValue value, const Where& where) {
  expect(value, PickleKind::String, where);
  return std::string(value.as_text());
}

}  // namespace oomtrace::report::torch_fields
