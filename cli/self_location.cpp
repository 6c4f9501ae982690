#include "cli/self_location.h"

#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace oomtrace::cli {

std::string self_executable_path() {
  std::error_code error;
  std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : path.string();
}

LibraryLookup locate_preload_library() {
  LibraryLookup lookup;
  const char* override_path = std::getenv("OOMTRACE_LIBRARY");
  if (override_path && *override_path) {
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(override_path, error);
    lookup.path = error ? std::string(override_path) : absolute.string();
  } else {
    std::filesystem::path self = self_executable_path();
    lookup.path = (self.empty() ? std::filesystem::path("liboomtrace.so")
                                : self.parent_path() / "liboomtrace.so").string();
  }
  struct stat info{};
  lookup.found = ::stat(lookup.path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
                 ::access(lookup.path.c_str(), R_OK) == 0;
  return lookup;
}

}  // namespace oomtrace::cli
