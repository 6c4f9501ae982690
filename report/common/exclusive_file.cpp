#include "report/common/exclusive_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace oomtrace::report {
namespace {

void set_error(std::string* error, const std::string& text) {
  if (error) *error = text;
}

// Loops over short writes; a write that makes no progress is a full disk.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return errno;
    if (written == 0) return ENOSPC;
    data += written;
    size -= static_cast<size_t>(written);
  }
  return 0;
}

}  // namespace

bool write_exclusive_file(const std::string& path, const std::string& content, std::string* error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    int saved = errno;
    set_error(error, saved == EEXIST ? path + " already exists: not overwriting it (remove it to write a new report)"
                                     : "cannot create " + path + ": " + std::strerror(saved));
    return false;
  }
  int failure = write_all(fd, content.data(), content.size());
  // close() is where NFS and some full disks finally report the error.
  if (::close(fd) != 0 && failure == 0 && errno != EINTR) failure = errno;
  if (failure != 0) {
    ::unlink(path.c_str());
    set_error(error, "cannot write " + path + ": " + std::strerror(failure));
    return false;
  }
  return true;
}

}  // namespace oomtrace::report
