#include "cli/attach/remote_memory.h"

#include <fcntl.h>
#include <unistd.h>

namespace oomtrace::cli {

RemoteMemory::RemoteMemory(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/mem";
  fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
}

RemoteMemory::~RemoteMemory() {
  if (fd_ >= 0) ::close(fd_);
}

bool RemoteMemory::read(uint64_t address, void* out, size_t size) const {
  return ::pread(fd_, out, size, static_cast<off_t>(address)) == static_cast<ssize_t>(size);
}

bool RemoteMemory::write(uint64_t address, const void* data, size_t size) const {
  return ::pwrite(fd_, data, size, static_cast<off_t>(address)) == static_cast<ssize_t>(size);
}

bool RemoteMemory::write_string(uint64_t address, const std::string& text) const {
  return write(address, text.c_str(), text.size() + 1);
}

std::string RemoteMemory::read_string(uint64_t address, size_t limit) const {
  std::string text(limit, '\0');
  ssize_t got = ::pread(fd_, text.data(), limit, static_cast<off_t>(address));
  if (got <= 0) return {};
  text.resize(static_cast<size_t>(got));
  size_t end = text.find('\0');
  if (end != std::string::npos) text.resize(end);
  return text;
}

}  // namespace oomtrace::cli
