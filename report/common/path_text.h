// Paths as text, computed the way std::filesystem computes them on POSIX
// (absolute(), lexically_normal(), parent_path() / relative). The report code
// is linked into liboomtrace.so, whose libstdc++ baseline (GLIBCXX_3.4.25,
// GCC 8, interpose/CMakeLists.txt) has no std::filesystem in the shared
// library; these touch no file and need nothing but getcwd.
// tests/unit/portable_text_test.cpp compares them with std::filesystem.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace oomtrace::report {

// std::filesystem::path(path).lexically_normal().string() on POSIX: one
// slash between names, no "." names, each "name/.." pair removed, no ".."
// right under the root, a trailing slash kept unless the path ends in "..",
// and "." for what would be empty (libstdc++'s own result, also for "//").
inline std::string lexically_normal_path(std::string_view path) {
  // Only slashes: kept as they are, as libstdc++ keeps them.
  if (path.find_first_not_of('/') == std::string_view::npos) return std::string(path);
  bool rooted = path.front() == '/';
  std::vector<std::string_view> names;
  bool trailing_slash = false;  // the last name removed or empty leaves its slash
  size_t position = 0;
  while (position <= path.size()) {
    size_t end = path.find('/', position);
    if (end == std::string_view::npos) end = path.size();
    std::string_view name = path.substr(position, end - position);
    position = end + 1;
    if (name.empty()) {
      trailing_slash = true;  // only matters at the end: a name resets it
      continue;
    }
    if (name == ".") {
      trailing_slash = true;
    } else if (name == "..") {
      if (!names.empty() && names.back() != "..") {
        names.pop_back();
        trailing_slash = true;
      } else if (!rooted) {
        names.push_back(name);
        trailing_slash = false;
      }
    } else {
      names.push_back(name);
      trailing_slash = false;
    }
  }
  std::string normal = rooted ? "/" : "";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) normal += '/';
    normal += names[i];
  }
  if (trailing_slash && !names.empty() && names.back() != "..") normal += '/';
  if (normal.empty()) normal = ".";
  return normal;
}

// std::filesystem::absolute(path).lexically_normal().string(), or `path`
// itself where absolute() fails (an empty path, no current directory).
inline std::string absolute_normal_path(const std::string& path) {
  if (path.empty()) return path;
  if (path.front() == '/') return lexically_normal_path(path);
  char* directory = ::getcwd(nullptr, 0);
  if (!directory) return path;
  std::string joined = std::string(directory) + "/" + path;
  std::free(directory);
  return lexically_normal_path(joined);
}

// (path(file).parent_path() / relative).lexically_normal().string(): a
// relative path read from the folder of `file`.
inline std::string normal_path_beside(std::string_view file, std::string_view relative) {
  size_t slash = file.rfind('/');
  std::string joined(slash == std::string_view::npos ? std::string_view() : file.substr(0, slash + 1));
  joined += relative;
  return lexically_normal_path(joined);
}

}  // namespace oomtrace::report
