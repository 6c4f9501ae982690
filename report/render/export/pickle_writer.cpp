#include "report/render/export/pickle_writer.h"

#include <bit>

namespace oomtrace::report {
namespace {

// Opcode values from Python's Lib/pickletools.py documentation.
namespace op {
constexpr uint8_t PROTO = 0x80, STOP = '.', MARK = '(', NONE = 'N', NEWTRUE = 0x88, NEWFALSE = 0x89;
constexpr uint8_t BININT1 = 'K', BININT2 = 'M', BININT = 'J', LONG1 = 0x8a, BINFLOAT = 'G';
constexpr uint8_t SHORT_BINUNICODE = 0x8c, BINUNICODE = 'X', BINUNICODE8 = 0x8d;
constexpr uint8_t EMPTY_DICT = '}', SETITEMS = 'u', EMPTY_LIST = ']', APPENDS = 'e', TUPLE = 't';
constexpr uint8_t MEMOIZE = 0x94, BINGET = 'h', LONG_BINGET = 'j';
}  // namespace op

constexpr uint8_t kProtocol = 4;

}  // namespace

PickleWriter::PickleWriter() {
  opcode(op::PROTO);
  opcode(kProtocol);
}

void PickleWriter::little_endian(uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) bytes_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void PickleWriter::open_container(uint8_t empty_op) {
  opcode(empty_op);
  opcode(op::MARK);
  ++open_containers_;
}

void PickleWriter::close_container(uint8_t append_op) {
  if (--open_containers_ < 0) unbalanced_ = true;
  opcode(append_op);
}

void PickleWriter::begin_dict() { open_container(op::EMPTY_DICT); }
void PickleWriter::end_dict() { close_container(op::SETITEMS); }
void PickleWriter::begin_list() { open_container(op::EMPTY_LIST); }
void PickleWriter::end_list() { close_container(op::APPENDS); }

void PickleWriter::begin_tuple() {
  opcode(op::MARK);
  ++open_containers_;
}

void PickleWriter::end_tuple() { close_container(op::TUPLE); }

void PickleWriter::none() { opcode(op::NONE); }
void PickleWriter::boolean(bool value) { opcode(value ? op::NEWTRUE : op::NEWFALSE); }

void PickleWriter::integer(int64_t value) {
  if (value >= 0 && value <= 0xff) {
    opcode(op::BININT1);
    little_endian(static_cast<uint64_t>(value), 1);
  } else if (value >= 0 && value <= 0xffff) {
    opcode(op::BININT2);
    little_endian(static_cast<uint64_t>(value), 2);
  } else if (value >= INT32_MIN && value <= INT32_MAX) {
    opcode(op::BININT);
    little_endian(static_cast<uint32_t>(static_cast<int32_t>(value)), 4);
  } else {
    opcode(op::LONG1);  // two's complement, little-endian, 8 bytes always suffice
    bytes_.push_back(8);
    little_endian(static_cast<uint64_t>(value), 8);
  }
}

void PickleWriter::unsigned_integer(uint64_t value) {
  if (value <= static_cast<uint64_t>(INT64_MAX)) return integer(static_cast<int64_t>(value));
  opcode(op::LONG1);  // a ninth, zero byte keeps it positive
  bytes_.push_back(9);
  little_endian(value, 8);
  bytes_.push_back(0);
}

void PickleWriter::floating(double value) {
  opcode(op::BINFLOAT);  // big-endian IEEE 754
  uint64_t bits = std::bit_cast<uint64_t>(value);
  for (int i = 7; i >= 0; --i) bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

void PickleWriter::text(std::string_view value) {
  if (value.size() <= 0xff) {
    opcode(op::SHORT_BINUNICODE);
    little_endian(value.size(), 1);
  } else if (value.size() <= 0xffffffffu) {
    opcode(op::BINUNICODE);
    little_endian(value.size(), 4);
  } else {
    opcode(op::BINUNICODE8);
    little_endian(value.size(), 8);
  }
  bytes_.append(value);
}

void PickleWriter::repeated_text(std::string_view value) {
  auto known = memoized_text_.find(value);
  if (known != memoized_text_.end()) return recall(known->second);
  text(value);
  memoized_text_.emplace(std::string(value), remember());
}

uint32_t PickleWriter::remember() {
  opcode(op::MEMOIZE);
  return memo_size_++;
}

void PickleWriter::recall(uint32_t memo_index) {
  if (memo_index <= 0xff) {
    opcode(op::BINGET);
    little_endian(memo_index, 1);
  } else {
    opcode(op::LONG_BINGET);
    little_endian(memo_index, 4);
  }
}

std::string PickleWriter::finish() {
  if (unbalanced_ || open_containers_ != 0) return {};
  opcode(op::STOP);
  return std::move(bytes_);
}

}  // namespace oomtrace::report
