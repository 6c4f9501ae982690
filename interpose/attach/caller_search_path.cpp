// Only the caller's own DT_RUNPATH / DT_RPATH is searched here; whatever
// glibc would search besides (LD_LIBRARY_PATH, the executable's DT_RPATH,
// ld.so.cache, the default folders) it still searches when we finally call
// dlopen with the bare name, because liboomtrace.so has no search path of
// its own. Known differences from glibc, all rare: the DT_RPATH of the
// caller's loaders (the modules that loaded it) is not followed, $LIB and
// $PLATFORM are not expanded (such folders are skipped), and a file found
// along the path that fails to load ends the search with that error,
// where glibc would go on past a file of the wrong ELF class.
#include "interpose/attach/caller_search_path.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <string>
#include <sys/auxv.h>
#include <unistd.h>

#include "interpose/attach/loaded_module.h"

namespace oomtrace::interpose {
namespace {

struct CallerModule {
  explicit CallerModule(const void* code) : address(code) {}
  const void* address;
  bool found = false;
  bool path_is_runpath = false;
  std::string search_path;
  std::string name;
};

void describe_caller(const dl_phdr_info* info, CallerModule* caller) {
  caller->found = true;
  caller->name = info->dlpi_name ? info->dlpi_name : "";
  DynamicTables tables;
  if (!read_dynamic_tables(*info, &tables)) return;
  // A module with DT_RUNPATH has its DT_RPATH ignored.
  if (tables.runpath) {
    caller->path_is_runpath = true;
    caller->search_path = tables.runpath;
  } else if (tables.rpath) {
    caller->search_path = tables.rpath;
  }
}

int find_caller_module(dl_phdr_info* info, size_t, void* data) {
  auto* caller = static_cast<CallerModule*>(data);
  if (!module_contains_address(*info, caller->address)) return 0;
  // Nothing may unwind through the loader (it would keep its lock held):
  // out of memory leaves the caller without a search path.
  try {
    describe_caller(info, caller);
  } catch (...) {
    caller->search_path.clear();
  }
  return 1;
}

std::string folder_of(const std::string& module_name) {
  std::string path = module_name;
  if (path.empty()) {
    // The main program: the loader names it "".
    char buffer[4096];
    ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (length <= 0) return ".";
    path.assign(buffer, static_cast<size_t>(length));
  }
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// $ORIGIN and ${ORIGIN} become the caller's folder. False for a folder
// naming another token, or naming $ORIGIN in a set-user-ID program (where
// glibc refuses it).
bool expand_folder(const std::string& folder, const std::string& origin, bool secure,
                   std::string* expanded) {
  expanded->clear();
  for (size_t i = 0; i < folder.size();) {
    if (folder[i] != '$') {
      expanded->push_back(folder[i++]);
      continue;
    }
    if (folder.compare(i, 9, "${ORIGIN}") == 0) {
      i += 9;
    } else if (folder.compare(i, 7, "$ORIGIN") == 0 &&
               (i + 7 == folder.size() || !is_name_character(folder[i + 7]))) {
      i += 7;
    } else {
      return false;
    }
    if (secure) return false;
    expanded->append(origin);
  }
  // An empty entry is the current folder, as for glibc.
  if (expanded->empty()) *expanded = ".";
  return true;
}

bool exists_in(const std::string& folder, const char* file, std::string* path) {
  *path = folder + "/" + file;
  return access(path->c_str(), F_OK) == 0;
}

// glibc searches LD_LIBRARY_PATH before a DT_RUNPATH (never before a
// DT_RPATH), and ignores it in set-user-ID programs.
bool found_along_library_path(const char* file) {
  const char* value = getenv("LD_LIBRARY_PATH");
  if (!value) return false;
  std::string list = value;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find_first_of(":;", start);
    if (end == std::string::npos) end = list.size();
    std::string folder = list.substr(start, end - start);
    std::string path;
    if (folder.find('$') == std::string::npos && exists_in(folder.empty() ? "." : folder, file, &path)) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

}  // namespace

void* dlopen_for_caller(DlopenFunction real_dlopen, const char* file, int mode,
                        const void* caller_address) {
  // dlopen(NULL) and paths are not searched.
  if (!file || std::strchr(file, '/')) return real_dlopen(file, mode);
  CallerModule caller(caller_address);
  dl_iterate_phdr(&find_caller_module, &caller);
  if (!caller.found || caller.search_path.empty()) return real_dlopen(file, mode);

  // A module already loaded under that name (or soname) is what glibc
  // returns before any search, wherever the caller's path points.
  if (void* loaded = real_dlopen(file, RTLD_LAZY | RTLD_NOLOAD)) {
    dlclose(loaded);
    return real_dlopen(file, mode);
  }
  bool secure = getauxval(AT_SECURE) != 0;
  if (caller.path_is_runpath && !secure && found_along_library_path(file)) {
    return real_dlopen(file, mode);
  }

  std::string origin = folder_of(caller.name);
  const std::string& list = caller.search_path;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    std::string folder;
    std::string path;
    if (expand_folder(list.substr(start, end - start), origin, secure, &folder) &&
        exists_in(folder, file, &path)) {
      // glibc names the module by the path it found, as this call does.
      return real_dlopen(path.c_str(), mode);
    }
    start = end + 1;
  }
  return real_dlopen(file, mode);
}

}  // namespace oomtrace::interpose
