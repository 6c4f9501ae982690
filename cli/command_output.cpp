#include "cli/command_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli/messages.h"

namespace oomtrace::cli {
namespace {

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t wrote = ::write(fd, text.data() + done, text.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return false;
    done += static_cast<size_t>(wrote);
  }
  return true;
}

bool write_file(const std::string& text, const std::string& path) {
  std::string partial = path + ".partial." + std::to_string(::getpid());
  int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    print_error("cannot write " + path + ": " + std::strerror(errno));
    return false;
  }
  bool written = write_all(fd, text);
  int saved_errno = errno;
  written = (::close(fd) == 0) && written;
  if (!written || ::rename(partial.c_str(), path.c_str()) != 0) {
    if (written) saved_errno = errno;
    ::unlink(partial.c_str());
    print_error("cannot write " + path + ": " + std::strerror(saved_errno));
    return false;
  }
  return true;
}

}  // namespace

void add_output_option(CLI::App& command, std::string& output_path) {
  command.add_option("-o,--output", output_path, "write the result to FILE instead of standard output")
      ->type_name("FILE");
}

bool write_command_output(const std::string& text, const std::string& output_path) {
  if (!output_path.empty()) return write_file(text, output_path);
  if (std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0) return true;
  print_error("cannot write to standard output");
  return false;
}

}  // namespace oomtrace::cli
