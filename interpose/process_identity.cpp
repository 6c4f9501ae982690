#include "interpose/process_identity.h"

#include <climits>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#include "interpose/distributed_rank.h"

namespace oomtrace::interpose {
namespace {

std::string read_small_file(const char* path) {
  std::string content;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return content;
  char buffer[4096];
  ssize_t got = 0;
  // argv is bounded to keep the record small; 64 KiB covers real command lines.
  while (content.size() < (64u << 10) && (got = ::read(fd, buffer, sizeof buffer)) > 0) {
    content.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return content;
}

std::vector<std::string> split_nul(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  for (char& c : host) {
    if (c == '/' || c == '\\' || c == ' ') c = '_';
  }
  return host;
}

trace::ProcessInfo describe_this_process() {
  trace::ProcessInfo info;
  info.pid = static_cast<uint32_t>(getpid());
  info.ppid = static_cast<uint32_t>(getppid());
  info.host = host_name();
  char exe[PATH_MAX] = {};
  ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (length > 0) info.executable.assign(exe, static_cast<size_t>(length));
  info.argv = split_nul(read_small_file("/proc/self/cmdline"));
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  info.start_unix_ns =
      static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
  DistributedRank job = read_distributed_rank();
  info.rank = job.rank;
  info.local_rank = job.local_rank;
  info.world_size = job.world_size;
  return info;
}

}  // namespace oomtrace::interpose
