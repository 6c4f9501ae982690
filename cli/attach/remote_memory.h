// Reading and writing the target's memory through /proc/PID/mem, which
// also writes read-only text (a breakpoint) while the process is traced.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace oomtrace::cli {

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid);
  ~RemoteMemory();
  RemoteMemory(const RemoteMemory&) = delete;
  RemoteMemory& operator=(const RemoteMemory&) = delete;

  bool is_open() const { return fd_ >= 0; }
  bool read(uint64_t address, void* out, size_t size) const;
  bool write(uint64_t address, const void* data, size_t size) const;
  bool write_string(uint64_t address, const std::string& text) const;
  // A NUL-terminated string of at most `limit` bytes.
  std::string read_string(uint64_t address, size_t limit) const;

 private:
  int fd_ = -1;
};

}  // namespace oomtrace::cli
