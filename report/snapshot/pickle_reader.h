// Reads a Python pickle (protocols 0 to 5) as plain data and never as code.
//
// A pickle is a program for a stack machine; Python's loader runs it and
// will import and call whatever it names. This reader runs only the opcodes
// that build None, bools, integers of at most 64 bits, floats, strings,
// bytes, lists, tuples, dicts and sets. Every opcode that would import or
// call something (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ,
// NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, out-of-band buffers) and every
// unknown opcode stops it with a one-line error.
//
// Bounded for hostile input (it is fuzzed): no recursion, every length is
// checked against the bytes left before anything is allocated, at most one
// value per input byte, and strings at most kPickleMaxTextPerByte times the
// input. Values shared through the memo are shared here too, never copied,
// so a small pickle cannot expand into a huge tree. A container is frozen
// once it is placed inside another one, which rules out cycles (Python's
// self-referencing data) and keeps nesting depth exact and bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomtrace::report {

inline constexpr size_t kPickleMaxDepth = 100;  // nested containers, and open MARKs
// raw-unicode-escape turns one Latin-1 byte into two UTF-8 bytes at most.
inline constexpr size_t kPickleMaxTextPerByte = 2;

enum class PickleKind : uint8_t { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Set };

const char* pickle_kind_name(PickleKind kind);  // Python's spelling: "NoneType", "int", "str", ...

class PickleDocument;

// A value inside a document: a small handle, valid while its document lives
// (and is not moved). Reading it as the wrong kind gives zero, "" or no
// items rather than undefined behaviour, so check kind() first.
class PickleValue {
 public:
  PickleKind kind() const;
  bool is(PickleKind kind) const { return this->kind() == kind; }
  bool as_bool() const;              // Bool
  int64_t as_int() const;            // Int; a Bool reads as 0 or 1
  double as_float() const;           // Float
  std::string_view as_text() const;  // String (UTF-8 for Python 3 pickles) or Bytes

  // Lists, tuples and sets: their items. Dicts: their entries, in the order
  // the pickle set them; a key set twice keeps both entries and get() finds
  // the later one, the value Python would keep.
  size_t size() const;
  PickleValue item(size_t index) const;
  PickleValue key(size_t index) const;
  PickleValue value(size_t index) const;
  std::optional<PickleValue> get(std::string_view key) const;

  // Equal for the same value reached twice through the memo: callers intern
  // shared parts by it instead of reading them again.
  uint32_t id() const { return id_; }

 private:
  friend class PickleDocument;
  PickleValue(const PickleDocument* document, uint32_t id) : document_(document), id_(id) {}

  const PickleDocument* document_;
  uint32_t id_;
};

class PickleDocument {
 public:
  PickleValue root() const { return PickleValue(this, root_); }
  size_t value_count() const { return nodes_.size(); }
  // Items and entries held by all containers together: the most work a
  // single pass over the data may take.
  size_t reference_count() const { return references_; }

 private:
  friend class PickleValue;
  friend class PickleBuilder;

  // 16 bytes: payload is the integer, the float's bits, the string's
  // offset in text_, or the container's index in containers_.
  struct Node {
    PickleKind kind = PickleKind::None;
    bool frozen = false;   // placed inside a container: never changed again
    uint16_t depth = 0;    // 0 for scalars, 1 + the deepest item for containers
    uint32_t length = 0;   // String and Bytes
    uint64_t payload = 0;
  };

  std::vector<Node> nodes_;
  std::vector<std::vector<uint32_t>> containers_;  // dicts: key, value, key, value, ...
  std::string text_;
  size_t references_ = 0;
  uint32_t root_ = 0;
};

struct PickleResult {
  std::optional<PickleDocument> document;
  std::string error;  // one line when document is empty
};

// The one entry point, for files and fuzzers alike. Never throws.
PickleResult parse_pickle(const uint8_t* data, size_t size);

// A pickle of protocol 2 or later starts with PROTO (0x80) and its version;
// PyTorch writes nothing older. An oomtrace trace starts with "OOMTRACE".
bool looks_like_pickle(const uint8_t* data, size_t size);

}  // namespace oomtrace::report
