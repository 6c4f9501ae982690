// Little-endian base-128 integers and length-prefixed strings: compact for
// the small numbers most fields hold, and self-delimiting.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace oomtrace::trace {

// The one varint writer: Encoder, FixedEncoder and the record framing of
// the file sink all use it.
inline uint8_t* put_varint(uint8_t* out, uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<uint8_t>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<uint8_t>(value);
  return out;
}

// Signed values zigzagged, so that -1 stays one byte.
inline uint64_t zigzag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

inline size_t varint_length(uint64_t value) {
  size_t length = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++length;
  }
  return length;
}

// Appends into a caller-owned byte string; reused between records so the
// hot path allocates only when a record is larger than any before it.
class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) { out_.clear(); }

  void u64(uint64_t value) {
    // Encoded on the stack and appended once: a push_back per byte costs a
    // capacity check and a terminator store each, on every allocation.
    uint8_t bytes[10];
    size_t length = static_cast<size_t>(put_varint(bytes, value) - bytes);
    out_.append(reinterpret_cast<const char*>(bytes), length);
  }
  void i64(int64_t value) { u64(zigzag(value)); }
  void str(std::string_view value) {
    u64(value.size());
    out_.append(value);
  }

 private:
  std::string& out_;
};

// The same encoding into a buffer on the caller's stack, for records of a
// known maximum size (events): no allocation, no capacity checks.
class FixedEncoder {
 public:
  explicit FixedEncoder(uint8_t* out) : out_(out) {}

  void u64(uint64_t value) { length_ = static_cast<size_t>(put_varint(out_ + length_, value) - out_); }
  void i64(int64_t value) { u64(zigzag(value)); }
  std::string_view bytes() const { return {reinterpret_cast<const char*>(out_), length_}; }

 private:
  uint8_t* out_;
  size_t length_ = 0;
};

// Reads what Encoder wrote; every read is bounds-checked and a failure
// sticks, so callers check ok() once at the end of a record.
class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint64_t u64() {
    // Ten bytes left, the most a varint takes: no bounds check per byte.
    // Reading a long trace is mostly this (pos_ never passes size_).
    if (__builtin_expect(size_ - pos_ >= 10, 1)) {
      const uint8_t* in = data_ + pos_;
      if (in[0] < 0x80) {
        pos_ += 1;
        return in[0];
      }
      uint64_t value = in[0] & 0x7f;
      for (int i = 1; i < 10; ++i) {
        value |= static_cast<uint64_t>(in[i] & 0x7f) << (7 * i);
        if (in[i] < 0x80) {
          pos_ += static_cast<size_t>(i) + 1;
          return value;
        }
      }
      return fail();
    }
    return u64_near_the_end();
  }
  uint64_t u64_near_the_end() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= size_) return fail();
      uint8_t byte = data_[pos_++];
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return fail();
  }
  int64_t i64() {
    uint64_t raw = u64();
    return static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  std::string str() {
    uint64_t length = u64();
    if (!ok_ || length > size_ - pos_) {
      fail();
      return {};
    }
    std::string value(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return value;
  }
  // Fields appended by a later minor version are optional: absent means 0.
  bool at_end() const { return pos_ >= size_; }
  size_t consumed() const { return pos_; }
  bool ok() const { return ok_; }

 private:
  uint64_t fail() {
    ok_ = false;
    pos_ = size_;
    return 0;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace oomtrace::trace
