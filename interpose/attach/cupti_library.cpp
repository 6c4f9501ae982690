#include "interpose/attach/cupti_library.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <link.h>

#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

constexpr const char* kLibraryNames[] = {"libcupti.so.13", "libcupti.so.12", "libcupti.so"};
constexpr const char* kToolkitFolders[] = {"lib64", "extras/CUPTI/lib64"};

struct LoadedSearch {
  char path[4096] = {};
};

// Only copies the name: dlopen inside dl_iterate_phdr's callback would take
// the loader's lock again.
int remember_loaded_cupti(dl_phdr_info* module, size_t, void* data) {
  const char* name = module->dlpi_name;
  if (name == nullptr || name[0] == '\0') return 0;
  const char* slash = std::strrchr(name, '/');
  const char* base = slash ? slash + 1 : name;
  if (std::strncmp(base, "libcupti.so", std::strlen("libcupti.so")) != 0) return 0;
  auto* search = static_cast<LoadedSearch*>(data);
  std::strncpy(search->path, name, sizeof search->path - 1);
  return 1;
}

void* open_loaded_cupti(std::string* path) {
  LoadedSearch search;
  if (dl_iterate_phdr(remember_loaded_cupti, &search) == 0) return nullptr;
  void* handle = dlopen(search.path, RTLD_NOW | RTLD_NOLOAD);
  if (handle) *path = search.path;
  return handle;
}

void* open_cupti_by_name(std::string* path) {
  for (const char* name : kLibraryNames) {
    if (void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
      *path = name;
      return handle;
    }
  }
  return nullptr;
}

std::string toolkit_root() {
  const char* home = std::getenv("CUDA_HOME");
  return home && *home ? home : "/usr/local/cuda";
}

void* open_cupti_in_toolkit(const std::string& root, std::string* path) {
  for (const char* folder : kToolkitFolders) {
    for (const char* name : kLibraryNames) {
      std::string candidate = root + "/" + folder + "/" + name;
      if (void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        *path = candidate;
        return handle;
      }
    }
  }
  return nullptr;
}

// The file a bare name resolved to, for the report: "libcupti.so.13" alone
// would not say which of several copies is in use.
std::string file_of(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0]) {
    return map->l_name;
  }
  return fallback;
}

template <typename Function>
void resolve(void* handle, const char* name, Function* out) {
  *out = reinterpret_cast<Function>(real_dlsym()(handle, name));
}

}  // namespace

std::string CuptiLibrary::describe(CUptiResult result) const {
  const char* text = nullptr;
  if (result_string && result_string(result, &text) == CUPTI_SUCCESS && text) return text;
  return "CUPTI error " + std::to_string(static_cast<int>(result));
}

bool load_cupti_library(CuptiLibrary* library, std::string* why) {
  std::string path;
  const std::string root = toolkit_root();
  void* handle = open_loaded_cupti(&path);
  if (!handle) handle = open_cupti_by_name(&path);
  if (!handle) handle = open_cupti_in_toolkit(root, &path);
  if (!handle) {
    *why = "libcupti not found (none loaded, none on the library path, none under " + root +
           "); allocations through driver pointers resolved before attach are not seen";
    return false;
  }
  CuptiLibrary found;
  found.path = file_of(handle, path);
  resolve(handle, "cuptiSubscribe_v2", &found.subscribe_v2);
  resolve(handle, "cuptiSubscribe", &found.subscribe);
  resolve(handle, "cuptiEnableCallback", &found.enable_callback);
  resolve(handle, "cuptiUnsubscribe", &found.unsubscribe);
  resolve(handle, "cuptiGetResultString", &found.result_string);
  if (!(found.subscribe_v2 || found.subscribe) || !found.enable_callback || !found.unsubscribe) {
    *why = found.path + " lacks the callback API (cuptiSubscribe, cuptiEnableCallback, "
                        "cuptiUnsubscribe); allocations through driver pointers resolved before "
                        "attach are not seen";
    return false;
  }
  *library = std::move(found);
  return true;
}

}  // namespace oomtrace::interpose
