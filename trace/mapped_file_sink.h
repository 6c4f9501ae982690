// A crash-safe append-only file. Bytes go into a MAP_SHARED window of the
// file, so once a record is copied it belongs to the kernel's page cache and
// survives SIGKILL or the OOM killer; no user-space buffer is ever lost.
// The file is grown with posix_fallocate ahead of the window: a full disk
// shows up as a failed grow (and recording stops), never as SIGBUS in the
// host program. After a crash the file ends in zeros, which readers treat as
// the end of the data (see format.h).
//
// Not thread-safe: the caller serialises. Everything in append_record is
// async-signal-safe (memcpy and system calls), so a signal handler that owns
// the caller's lock may write the trailer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace oomtrace::trace {

class MappedFileSink {
 public:
  MappedFileSink() = default;
  MappedFileSink(const MappedFileSink&) = delete;
  MappedFileSink& operator=(const MappedFileSink&) = delete;
  ~MappedFileSink() { close(); }

  // Creates a new file (never follows or reuses one: O_EXCL|O_NOFOLLOW,
  // mode 0600). On failure returns false and sets errno.
  bool create(const std::string& path);
  bool is_open() const { return fd_ >= 0; }

  bool append(std::string_view bytes);
  // Writes type | varint(length) | payload, storing the type byte last.
  bool append_record(uint8_t type, std::string_view payload);

  // Unmaps, trims the preallocated tail and closes.
  void close();
  // For a forked child: drops the parent's mapping and descriptor without
  // touching the file, which still belongs to the parent.
  void abandon();

  uint64_t size() const { return pos_; }
  // Copies what was appended at [offset, offset + length) into `out`
  // (pread: the page cache is the mapping's). Returns the bytes copied; short
  // at the end of the data or on an error.
  size_t read_back(uint64_t offset, uint8_t* out, size_t length) const;

 private:
  bool reserve(size_t bytes);
  bool map_window_at(uint64_t offset);
  void populate_ahead();
  void unmap();

  int fd_ = -1;
  uint8_t* window_ = nullptr;
  uint64_t window_start_ = 0;
  size_t window_length_ = 0;
  uint64_t pos_ = 0;
  uint64_t allocated_ = 0;
  uint64_t populated_end_ = 0;  // file offset up to which the window is prefaulted
  bool can_populate_ = true;    // false where the kernel lacks MADV_POPULATE_WRITE
};

}  // namespace oomtrace::trace
