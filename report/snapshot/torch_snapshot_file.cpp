#include "report/snapshot/torch_snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

namespace oomtrace::report {
namespace {

class FileDescriptor {
 public:
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
  // refuses it. Reads of regular files are unaffected.
  explicit FileDescriptor(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

bool read_fully(int fd, uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The whole file, or false with a one-line error naming it.
bool read_bounded(const std::string& path, std::vector<uint8_t>& bytes, std::string& error) {
  FileDescriptor file(path);
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    error = path + ": not a regular file";
    return false;
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxTorchSnapshotFileBytes) {
    error = path + ": " + std::to_string(info.st_size) + " bytes, more than the " +
            std::to_string(kMaxTorchSnapshotFileBytes >> 20) + " MiB a PyTorch snapshot is read up to";
    return false;
  }
  bytes.resize(static_cast<size_t>(info.st_size));
  if (!read_fully(file.get(), bytes.data(), bytes.size())) {
    error = path + ": cannot read the whole file";
    return false;
  }
  return true;
}

}  // namespace

TorchSnapshotResult load_torch_snapshot(const std::string& path) {
  TorchSnapshotResult result;
  std::vector<uint8_t> bytes;
  try {
    if (!read_bounded(path, bytes, result.error)) return result;
  } catch (const std::bad_alloc&) {
    result.error = path + ": out of memory reading the file";
    return result;
  }
  result = parse_torch_snapshot(bytes.data(), bytes.size());
  if (!result.snapshot) result.error = path + ": " + result.error;
  return result;
}

bool file_starts_like_pickle(const std::string& path) {
  FileDescriptor file(path);
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  uint8_t start[2] = {0, 0};
  return read_fully(file.get(), start, sizeof start) && looks_like_pickle(start, sizeof start);
}

}  // namespace oomtrace::report
