#include "report/symbols/module_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>

namespace oomtrace::report {
namespace {

std::string file_name_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool exists(const std::string& path) { return ::access(path.c_str(), R_OK) == 0; }

// ".build-id/ab/cdef..." under `dir`, without a suffix.
std::string build_id_link(const std::string& dir, const std::string& hex) {
  return dir + "/.build-id/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

std::vector<std::string> candidates(const trace::ModuleInfo& module, const std::vector<std::string>& debug_dirs,
                                    const std::string& system_debug_dir) {
  std::vector<std::string> paths;
  std::string hex = build_id_hex(module.build_id);
  bool by_id = hex.size() > 2;
  for (const std::string& dir : debug_dirs) {
    if (by_id) {
      paths.push_back(build_id_link(dir, hex));
      paths.push_back(build_id_link(dir, hex) + ".debug");
    }
    paths.push_back(dir + "/" + file_name_of(module.path));
  }
  if (by_id) paths.push_back(build_id_link(system_debug_dir, hex) + ".debug");
  return paths;
}

}  // namespace

std::optional<std::string> read_build_id(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  std::optional<std::string> id;
  if (elf && elf_kind(elf) == ELF_K_ELF) {
    const void* bits = nullptr;
    ssize_t length = dwelf_elf_gnu_build_id(elf, &bits);
    id = length > 0 ? std::string(static_cast<const char*>(bits), static_cast<size_t>(length)) : std::string();
  }
  if (elf) elf_end(elf);
  ::close(fd);
  return id;
}

std::string build_id_hex(const std::string& build_id) {
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : build_id) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

ModuleFile find_module_file(const trace::ModuleInfo& module, const std::vector<std::string>& debug_dirs,
                            const std::string& system_debug_dir) {
  ModuleFile found;
  std::optional<std::string> recorded_id = read_build_id(module.path);
  if (recorded_id && *recorded_id == module.build_id) {
    found.path = module.path;
    return found;
  }
  for (const std::string& path : candidates(module, debug_dirs, system_debug_dir)) {
    std::optional<std::string> id = read_build_id(path);
    if (id && *id == module.build_id) {
      found.path = path;
      return found;
    }
  }
  if (recorded_id) {
    found.problem = "skipped " + module.path + ": its build-id is now " +
                    (recorded_id->empty() ? std::string("none") : build_id_hex(*recorded_id)) +
                    ", the trace recorded " +
                    (module.build_id.empty() ? std::string("none") : build_id_hex(module.build_id)) +
                    " (rebuilt since the run), so its frames keep the names recorded at run time; "
                    "--debug-dir DIR with the original binary gives their lines";
  } else if (exists(module.path)) {
    found.problem = module.path + " is not a readable ELF file; its frames keep the names recorded at run time";
  } else {
    found.problem = "no file for " + module.path + " (moved, deleted, or the trace came from another machine); "
                    "--debug-dir DIR naming a folder with a copy gives its frames' lines";
  }
  return found;
}

}  // namespace oomtrace::report
