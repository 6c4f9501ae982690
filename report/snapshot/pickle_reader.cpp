// The opcode machine of the pickle reader: decodes each opcode's argument,
// keeps the stack, marks and memo, and hands values to PickleBuilder. Opcode
// names and layouts are those of CPython's Lib/pickle.py.
#include "report/snapshot/pickle_reader.h"

#include <bit>
#include <cstring>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "report/snapshot/pickle_builder.h"
#include "report/snapshot/pickle_text_codecs.h"

namespace oomtrace::report {
namespace {

namespace op {
// Protocol 0 and 1.
constexpr uint8_t MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
                  BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
                  BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
                  UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
                  EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
                  LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
                  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G';
// Protocol 2.
constexpr uint8_t PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
                  TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b;
// Protocol 3.
constexpr uint8_t BINBYTES = 'B', SHORT_BINBYTES = 'C';
// Protocol 4.
constexpr uint8_t SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
                  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94,
                  FRAME = 0x95;
// Protocol 5.
constexpr uint8_t BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98;
}  // namespace op

constexpr uint8_t kHighestProtocol = 5;
constexpr size_t kMaxNameInMessage = 80;

[[noreturn]] void refuse(const std::string& what) { throw PickleError{PickleError::Kind::Refused, what}; }

[[noreturn]] void over_limit(const std::string& what) { throw PickleError{PickleError::Kind::OverLimit, what}; }

// A module or function name from the input, safe to print on one line.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, kMaxNameInMessage)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (name.size() > kMaxNameInMessage) out += "...";
  return out;
}

std::string hex_byte(uint8_t value) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[value >> 4] + digits[value & 15];
}

// LONG1/LONG4: little-endian two's complement of any length; ours must fit
// in 64 bits (longer encodings are fine when the extra bytes only extend
// the sign).
int64_t decode_long(std::string_view bytes) {
  if (bytes.empty()) return 0;
  bool negative = static_cast<uint8_t>(bytes.back()) & 0x80;
  uint8_t fill = negative ? 0xff : 0x00;
  bool fits = true;
  for (size_t i = 8; i < bytes.size(); ++i) fits = fits && static_cast<uint8_t>(bytes[i]) == fill;
  if (bytes.size() > 8) fits = fits && ((static_cast<uint8_t>(bytes[7]) & 0x80) != 0) == negative;
  if (!fits) over_limit("it holds an integer larger than 64 bits");
  uint64_t value = negative ? ~uint64_t{0} : 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    value &= ~(uint64_t{0xff} << (8 * i));
    value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  }
  return static_cast<int64_t>(value);
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size) : data_(data), size_(size), builder_(size) {}

  PickleDocument run() {
    for (;;) {
      opcode_at_ = pos_;
      if (pos_ >= size_) throw_malformed("the data ends before the pickle's STOP opcode");
      if (!step(data_[pos_++])) return builder_.finish(root_);
    }
  }

  size_t opcode_offset() const { return opcode_at_; }

 private:
  // ---- input ----
  std::string_view take(uint64_t count, const char* what) {
    if (count > size_ - pos_) {
      throw_malformed("a " + std::to_string(count) + "-byte " + what + " runs past the end of the data (" +
                      std::to_string(size_ - pos_) + " bytes left)");
    }
    std::string_view bytes(reinterpret_cast<const char*>(data_ + pos_), count);
    pos_ += count;
    return bytes;
  }

  uint64_t little_endian(size_t count) {
    std::string_view bytes = take(count, "argument");
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) value |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
    return value;
  }

  uint8_t byte() { return static_cast<uint8_t>(little_endian(1)); }

  // Protocol 0's arguments: text up to a newline, which is consumed.
  std::string_view line() {
    const void* newline = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (newline == nullptr) throw_malformed("a text argument has no end of line before the end of the data");
    size_t length = static_cast<const uint8_t*>(newline) - (data_ + pos_);
    std::string_view text(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length + 1;
    return text;
  }

  uint64_t length_of(int64_t signed_length) {
    if (signed_length < 0) throw_malformed("a negative length");
    return static_cast<uint64_t>(signed_length);
  }

  // ---- stack, marks, memo ----
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  void push(uint32_t id) { stack_.push_back(id); }

  uint32_t pop() {
    if (stack_.size() <= floor()) throw_malformed("an opcode needs a value and the stack is empty");
    uint32_t id = stack_.back();
    stack_.pop_back();
    return id;
  }

  uint32_t top() const {
    if (stack_.size() <= floor()) throw_malformed("an opcode needs a value and the stack is empty");
    return stack_.back();
  }

  void mark() {
    if (marks_.size() >= kPickleMaxDepth) over_limit("it nests deeper than " + std::to_string(kPickleMaxDepth) + " levels");
    marks_.push_back(stack_.size());
  }

  // The values pushed since the last MARK, taken off the stack with it.
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) throw_malformed("an opcode needs a MARK and there is none");
    size_t start = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + static_cast<std::ptrdiff_t>(start), stack_.end());
    stack_.resize(start);
    return items;
  }

  void memo_put(uint64_t index) { memo_[index] = top(); }

  void memo_get(uint64_t index) {
    auto found = memo_.find(index);
    if (found == memo_.end()) throw_malformed("memo entry " + std::to_string(index) + " is used before it is set");
    push(found->second);
  }

  uint64_t memo_index_text() {
    std::optional<uint64_t> index = parse_uint64(line());
    if (!index) throw_malformed("a memo index is not a number");
    return *index;
  }

  // ---- values ----
  void push_text(PickleKind kind, std::string_view bytes) { push(builder_.text(kind, bytes)); }

  void push_int_text() {
    std::string_view text = line();
    if (text == "00" || text == "01") return push(builder_.boolean(text == "01"));  // protocol 0's bools
    push_int_value(text);
  }

  void push_long_text() {
    std::string_view text = line();
    if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
    push_int_value(text);
  }

  void push_int_value(std::string_view text) {
    std::optional<int64_t> value = parse_int64(text);
    if (value) return push(builder_.integer(*value));
    if (is_decimal_integer(text)) over_limit("it holds an integer larger than 64 bits");
    throw_malformed("an integer argument is not a decimal number");
  }

  void push_float_text() {
    std::optional<double> value = parse_float_text(line());
    if (!value) throw_malformed("a float argument is not a number");
    push(builder_.real(*value));
  }

  void push_binary_float() {
    uint64_t big_endian = 0;
    for (char c : take(8, "float")) big_endian = (big_endian << 8) | static_cast<uint8_t>(c);
    push(builder_.real(std::bit_cast<double>(big_endian)));
  }

  // STRING: a quoted, escaped Python 2 str; its bytes are kept as they are.
  void push_quoted_string() {
    std::string_view text = line();
    bool quoted = text.size() >= 2 && text.front() == text.back() && (text.front() == '\'' || text.front() == '"');
    if (!quoted) throw_malformed("the STRING opcode's argument is not quoted");
    std::optional<std::string> bytes = decode_escapes(text.substr(1, text.size() - 2));
    if (!bytes) throw_malformed("the STRING opcode's argument has a bad escape");
    push_text(PickleKind::String, *bytes);
  }

  void push_raw_unicode() {
    std::optional<std::string> text = decode_raw_unicode_escape(line());
    if (!text) throw_malformed("the UNICODE opcode's argument has a bad \\u escape");
    push_text(PickleKind::String, *text);
  }

  // ---- containers ----
  uint32_t container_of(PickleKind kind, const std::vector<uint32_t>& items) {
    uint32_t id = builder_.container(kind);
    for (uint32_t item : items) builder_.add(id, item);
    return id;
  }

  uint32_t dict_of(const std::vector<uint32_t>& items) {
    uint32_t id = builder_.container(PickleKind::Dict);
    set_items(id, items);
    return id;
  }

  void set_items(uint32_t dict, const std::vector<uint32_t>& items) {
    if (items.size() % 2 != 0) throw_malformed("a dict is given a key without a value");
    for (size_t i = 0; i < items.size(); i += 2) builder_.add_entry(dict, items[i], items[i + 1]);
  }

  // APPEND(S) and ADDITEMS change a value already built: only a list (a
  // set) may be changed that way; anything else would be a method call.
  uint32_t target(PickleKind wanted, const char* opcode) {
    uint32_t id = top();
    if (builder_.kind(id) != wanted) {
      throw_malformed(std::string(opcode) + " on a " + pickle_kind_name(builder_.kind(id)));
    }
    return id;
  }

  void push_tuple_of_last(size_t count) {
    std::vector<uint32_t> items(count);
    for (size_t i = count; i-- > 0;) items[i] = pop();
    push(container_of(PickleKind::Tuple, items));
  }

  // ---- what is never run ----
  [[noreturn]] void refuse_global(std::string_view module, std::string_view name) {
    refuse("the pickle calls " + printable(module) + "." + printable(name));
  }

  [[noreturn]] void refuse_stack_global() {
    size_t above = stack_.size() - floor();
    if (above >= 2 && builder_.kind(stack_[stack_.size() - 2]) == PickleKind::String &&
        builder_.kind(stack_.back()) == PickleKind::String) {
      refuse_global(builder_.text_of(stack_[stack_.size() - 2]), builder_.text_of(stack_.back()));
    }
    refuse("the pickle imports a global (STACK_GLOBAL)");
  }

  void check_protocol() {
    uint8_t protocol = byte();
    if (protocol > kHighestProtocol) {
      throw_malformed("pickle protocol " + std::to_string(protocol) + " is newer than this reader (0 to 5)");
    }
  }

  // FRAME only announces how many bytes follow; they are read as usual.
  void check_frame() {
    uint64_t length = little_endian(8);
    if (length > size_ - pos_) {
      throw_malformed("a " + std::to_string(length) + "-byte frame runs past the end of the data (" +
                      std::to_string(size_ - pos_) + " bytes left)");
    }
  }

  // Returns false at STOP.
  bool step(uint8_t opcode) {
    switch (opcode) {
      case op::STOP: root_ = pop(); return false;
      case op::PROTO: check_protocol(); break;
      case op::FRAME: check_frame(); break;
      case op::MARK: mark(); break;
      case op::POP:
        if (stack_.size() > floor()) {
          stack_.pop_back();
        } else {
          pop_mark();  // Python's POP discards an empty MARK
        }
        break;
      case op::POP_MARK: pop_mark(); break;
      case op::DUP: push(top()); break;

      case op::NONE: push(builder_.none()); break;
      case op::NEWTRUE: push(builder_.boolean(true)); break;
      case op::NEWFALSE: push(builder_.boolean(false)); break;
      case op::INT: push_int_text(); break;
      case op::LONG: push_long_text(); break;
      case op::BININT: push(builder_.integer(static_cast<int32_t>(little_endian(4)))); break;
      case op::BININT1: push(builder_.integer(byte())); break;
      case op::BININT2: push(builder_.integer(static_cast<int64_t>(little_endian(2)))); break;
      case op::LONG1: push(builder_.integer(decode_long(take(byte(), "integer")))); break;
      case op::LONG4:
        push(builder_.integer(decode_long(take(length_of(static_cast<int32_t>(little_endian(4))), "integer"))));
        break;
      case op::FLOAT: push_float_text(); break;
      case op::BINFLOAT: push_binary_float(); break;

      case op::STRING: push_quoted_string(); break;
      case op::BINSTRING:
        push_text(PickleKind::String, take(length_of(static_cast<int32_t>(little_endian(4))), "string"));
        break;
      case op::SHORT_BINSTRING: push_text(PickleKind::String, take(byte(), "string")); break;
      case op::UNICODE: push_raw_unicode(); break;
      case op::SHORT_BINUNICODE: push_text(PickleKind::String, take(byte(), "string")); break;
      case op::BINUNICODE: push_text(PickleKind::String, take(little_endian(4), "string")); break;
      case op::BINUNICODE8: push_text(PickleKind::String, take(little_endian(8), "string")); break;
      case op::SHORT_BINBYTES: push_text(PickleKind::Bytes, take(byte(), "bytes object")); break;
      case op::BINBYTES: push_text(PickleKind::Bytes, take(little_endian(4), "bytes object")); break;
      case op::BINBYTES8: push_text(PickleKind::Bytes, take(little_endian(8), "bytes object")); break;
      case op::BYTEARRAY8: push_text(PickleKind::Bytes, take(little_endian(8), "bytearray")); break;

      case op::EMPTY_LIST: push(builder_.container(PickleKind::List)); break;
      case op::EMPTY_TUPLE: push(builder_.container(PickleKind::Tuple)); break;
      case op::EMPTY_DICT: push(builder_.container(PickleKind::Dict)); break;
      case op::EMPTY_SET: push(builder_.container(PickleKind::Set)); break;
      case op::LIST: push(container_of(PickleKind::List, pop_mark())); break;
      case op::TUPLE: push(container_of(PickleKind::Tuple, pop_mark())); break;
      case op::FROZENSET: push(container_of(PickleKind::Set, pop_mark())); break;
      case op::DICT: push(dict_of(pop_mark())); break;
      case op::TUPLE1: push_tuple_of_last(1); break;
      case op::TUPLE2: push_tuple_of_last(2); break;
      case op::TUPLE3: push_tuple_of_last(3); break;
      case op::APPEND: {
        uint32_t item = pop();
        builder_.add(target(PickleKind::List, "APPEND"), item);
        break;
      }
      case op::APPENDS: {
        std::vector<uint32_t> items = pop_mark();
        uint32_t list = target(PickleKind::List, "APPENDS");
        for (uint32_t item : items) builder_.add(list, item);
        break;
      }
      case op::ADDITEMS: {
        std::vector<uint32_t> items = pop_mark();
        uint32_t set = target(PickleKind::Set, "ADDITEMS");
        for (uint32_t item : items) builder_.add(set, item);
        break;
      }
      case op::SETITEM: {
        uint32_t value = pop();
        uint32_t key = pop();
        builder_.add_entry(target(PickleKind::Dict, "SETITEM"), key, value);
        break;
      }
      case op::SETITEMS: {
        std::vector<uint32_t> items = pop_mark();
        set_items(target(PickleKind::Dict, "SETITEMS"), items);
        break;
      }

      case op::PUT: memo_put(memo_index_text()); break;
      case op::BINPUT: memo_put(byte()); break;
      case op::LONG_BINPUT: memo_put(little_endian(4)); break;
      case op::MEMOIZE: memo_put(memo_.size()); break;
      case op::GET: memo_get(memo_index_text()); break;
      case op::BINGET: memo_get(byte()); break;
      case op::LONG_BINGET: memo_get(little_endian(4)); break;

      case op::GLOBAL:
      case op::INST: {
        std::string_view module = line();
        refuse_global(module, line());
      }
      case op::STACK_GLOBAL: refuse_stack_global();
      case op::REDUCE: refuse("the pickle calls an object (REDUCE)");
      case op::BUILD: refuse("the pickle sets an object's state (BUILD)");
      case op::OBJ: refuse("the pickle creates an object (OBJ)");
      case op::NEWOBJ: refuse("the pickle creates an object (NEWOBJ)");
      case op::NEWOBJ_EX: refuse("the pickle creates an object (NEWOBJ_EX)");
      case op::EXT1:
      case op::EXT2:
      case op::EXT4: refuse("the pickle loads an object from the extension registry (EXT)");
      case op::PERSID:
      case op::BINPERSID: refuse("the pickle asks for a persistent object (PERSID)");
      case op::NEXT_BUFFER:
      case op::READONLY_BUFFER: refuse("the pickle uses out-of-band buffers");
      default: refuse("the pickle uses an unknown opcode " + hex_byte(opcode));
    }
    return true;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t opcode_at_ = 0;
  PickleBuilder builder_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, uint32_t> memo_;
  uint32_t root_ = 0;
};

std::string one_line_error(const PickleError& error, size_t offset) {
  std::string at = " (at byte " + std::to_string(offset) + ")";
  switch (error.kind) {
    case PickleError::Kind::Refused: return "refusing to load: " + error.message + "; only plain data is read";
    case PickleError::Kind::OverLimit: return "pickle not read: " + error.message + at;
    case PickleError::Kind::Malformed: break;
  }
  return "not a readable pickle: " + error.message + at;
}

}  // namespace

PickleResult parse_pickle(const uint8_t* data, size_t size) {
  PickleResult result;
  if (data == nullptr || size == 0) {
    result.error = "not a readable pickle: it is empty";
    return result;
  }
  std::optional<Unpickler> unpickler;
  try {
    unpickler.emplace(data, size);
    result.document = unpickler->run();
  } catch (const PickleError& error) {
    result.error = one_line_error(error, unpickler ? unpickler->opcode_offset() : 0);
  } catch (const std::bad_alloc&) {
    result.error = "pickle not read: out of memory";
  } catch (const std::length_error&) {
    result.error = "pickle not read: out of memory";
  }
  return result;
}

bool looks_like_pickle(const uint8_t* data, size_t size) {
  return data != nullptr && size >= 2 && data[0] == op::PROTO && data[1] >= 2 && data[1] <= kHighestProtocol;
}

}  // namespace oomtrace::report
