#include "trace/mapped_file_sink.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "trace/encoding.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older glibc headers lack the name
#endif

namespace oomtrace::trace {
namespace {

constexpr size_t kWindowBytes = 8 << 20;
constexpr uint64_t kPopulateBytes = 1 << 20;
constexpr size_t kPrefetchAhead = 256;
constexpr uint64_t kPageBytes = 4096;

// Growing a file past the process's file size limit (ulimit -f) raises
// SIGXFSZ, which kills the host program. Such a grow is refused here, before
// the kernel sees it, as a full disk would refuse it.
bool beyond_file_size_limit(uint64_t end) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
  return end > static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace

bool MappedFileSink::create(const std::string& path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) return false;
  pos_ = 0;
  allocated_ = 0;
  if (!map_window_at(0)) {
    int saved = errno;
    ::close(fd_);
    ::unlink(path.c_str());
    fd_ = -1;
    errno = saved;
    return false;
  }
  return true;
}

bool MappedFileSink::map_window_at(uint64_t offset) {
  unmap();
  uint64_t start = offset & ~(kPageBytes - 1);
  uint64_t end = start + kWindowBytes;
  if (end > allocated_) {
    if (beyond_file_size_limit(end)) {
      errno = EFBIG;
      return false;
    }
    // posix_fallocate returns the error instead of setting errno.
    int error = ::posix_fallocate(fd_, static_cast<off_t>(allocated_),
                                  static_cast<off_t>(end - allocated_));
    if (error != 0) {
      errno = error;
      return false;
    }
    allocated_ = end;
  }
  void* window = ::mmap(nullptr, kWindowBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                        static_cast<off_t>(start));
  if (window == MAP_FAILED) return false;
  window_ = static_cast<uint8_t*>(window);
  window_start_ = start;
  window_length_ = kWindowBytes;
  populated_end_ = start;
  return true;
}

// A first write to each page of a shared file mapping is a page fault, and
// in a virtual machine a costly one: one every ~150 events. One madvise
// per kPopulateBytes maps the next pages writable in a single call instead
// (Linux 5.14; elsewhere the faults simply stay).
void MappedFileSink::populate_ahead() {
  uint64_t window_end = window_start_ + window_length_;
  uint64_t from = std::max(populated_end_, pos_ & ~(kPageBytes - 1));
  uint64_t to = std::min(window_end, from + kPopulateBytes);
  populated_end_ = to;
  if (!can_populate_ || to <= from) return;
  int saved = errno;
  if (::madvise(window_ + (from - window_start_), to - from, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
    can_populate_ = false;
  }
  errno = saved;
}

bool MappedFileSink::reserve(size_t bytes) {
  if (fd_ < 0) return false;
  if (bytes + kPageBytes > kWindowBytes) {
    errno = EFBIG;
    return false;
  }
  if (window_ && pos_ + bytes <= window_start_ + window_length_) return true;
  return map_window_at(pos_);
}

bool MappedFileSink::append(std::string_view bytes) {
  if (!reserve(bytes.size())) return false;
  std::memcpy(window_ + (pos_ - window_start_), bytes.data(), bytes.size());
  pos_ += bytes.size();
  return true;
}

bool MappedFileSink::append_record(uint8_t type, std::string_view payload) {
  size_t total = 1 + varint_length(payload.size()) + payload.size();
  if (!reserve(total)) return false;
  if (pos_ + total > populated_end_) populate_ahead();
  uint8_t* record = window_ + (pos_ - window_start_);
  uint8_t* body = put_varint(record + 1, payload.size());
  std::memcpy(body, payload.data(), payload.size());
  // The type byte last: a reader never sees a record whose body is missing.
  __atomic_store_n(record, type, __ATOMIC_RELEASE);
  pos_ += total;
  // Each fresh cache line of the mapping is a miss to memory on first
  // write; ask for the one a few records ahead now (a prefetch never faults).
  __builtin_prefetch(record + kPrefetchAhead, 1, 0);
  return true;
}

size_t MappedFileSink::read_back(uint64_t offset, uint8_t* out, size_t length) const {
  if (fd_ < 0 || offset >= pos_) return 0;
  length = static_cast<size_t>(std::min<uint64_t>(length, pos_ - offset));
  size_t done = 0;
  while (done < length) {
    ssize_t got = ::pread(fd_, out + done, length - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

void MappedFileSink::unmap() {
  if (window_) ::munmap(window_, window_length_);
  window_ = nullptr;
  window_length_ = 0;
}

void MappedFileSink::close() {
  if (fd_ < 0) return;
  unmap();
  // Trim the zeros allocated ahead; a failure leaves them, which readers accept.
  if (::ftruncate(fd_, static_cast<off_t>(pos_)) != 0) {
  }
  ::close(fd_);
  fd_ = -1;
}

void MappedFileSink::abandon() {
  if (fd_ < 0) return;
  unmap();
  ::close(fd_);
  fd_ = -1;
}

}  // namespace oomtrace::trace
