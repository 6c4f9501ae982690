#include "interpose/symbol_resolution.h"

#include <algorithm>

#include <atomic>
#include <dlfcn.h>
#include <link.h>
#include <string>
#include <vector>

#include "interpose/instance_guard.h"

namespace oomtrace::interpose {
namespace {

// Read and written with the __atomic builtins: std::atomic's members are
// functions of their own, instrumented in sanitized builds.
DlsymFunction g_real_dlsym = nullptr;
std::atomic<void*> g_driver_handle{nullptr};

void* this_library_base() {
  static void* base = [] {
    Dl_info info{};
    dladdr(reinterpret_cast<void*>(&this_library_base), &info);
    return info.dli_fbase;
  }();
  return base;
}

// dl_iterate_phdr visits objects loaded with RTLD_LOCAL too, which neither
// RTLD_NEXT nor RTLD_DEFAULT search (Python extensions load libcudart so).
// It holds the loader's write lock while it calls back, and dlopen takes
// the loader's main lock and then that one: a dlopen from inside the
// callback deadlocks against another thread's dlopen. So the callback only
// copies the names; they are opened after it returns.
int collect_object_name(struct dl_phdr_info* info, size_t, void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (info->dlpi_name && info->dlpi_name[0] != '\0') names->emplace_back(info->dlpi_name);
  return 0;
}

// Never a wrapper: neither ours nor another copy's of liboomtrace.so
// (instance_guard.h), which may come next in the search order.
void* accept(void* candidate) {
  return candidate && !is_inside_an_instance(candidate) ? candidate : nullptr;
}

}  // namespace

DlsymFunction real_dlsym() {
  DlsymFunction function = __atomic_load_n(&g_real_dlsym, __ATOMIC_ACQUIRE);
  if (function) return function;
  // dlsym moved from libdl to libc in glibc 2.34 under a new version.
  void* found = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
#if defined(__x86_64__)
  if (!found) found = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
#elif defined(__aarch64__)
  if (!found) found = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.17");
#endif
  function = reinterpret_cast<DlsymFunction>(found);
  __atomic_store_n(&g_real_dlsym, function, __ATOMIC_RELEASE);
  return function;
}

void* loaded_driver_handle() {
  void* handle = g_driver_handle.load(std::memory_order_acquire);
  if (handle) return handle;
  handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (handle) g_driver_handle.store(handle, std::memory_order_release);
  return handle;
}

namespace {

struct AddressRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
};

// The span of this library's loaded segments, found once: the stack
// capture asks for every frame, and dladdr takes the loader's lock.
int find_own_segments(struct dl_phdr_info* info, size_t, void* data) {
  auto* range = static_cast<AddressRange*>(data);
  if (reinterpret_cast<void*>(info->dlpi_addr) != this_library_base()) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    uintptr_t end = begin + segment.p_memsz;
    if (range->begin == 0 || begin < range->begin) range->begin = begin;
    range->end = std::max(range->end, end);
  }
  return 1;
}

AddressRange own_segments() {
  static const AddressRange range = [] {
    AddressRange found;
    dl_iterate_phdr(&find_own_segments, &found);
    return found;
  }();
  return range;
}

}  // namespace

bool is_inside_this_library(const void* address) {
  AddressRange range = own_segments();
  auto value = reinterpret_cast<uintptr_t>(address);
  if (range.end != 0) return value >= range.begin && value < range.end;
  Dl_info info{};
  return dladdr(address, &info) && info.dli_fbase == this_library_base();
}

void* find_real_symbol(const char* name, bool is_driver_function) {
  DlsymFunction lookup = real_dlsym();
  if (!lookup) return nullptr;
  if (void* found = accept(lookup(RTLD_NEXT, name))) return found;
  if (is_driver_function) {
    if (void* driver = loaded_driver_handle()) {
      if (void* found = accept(lookup(driver, name))) return found;
    }
  }
  if (void* found = accept(lookup(RTLD_DEFAULT, name))) return found;
  std::vector<std::string> objects;
  dl_iterate_phdr(&collect_object_name, &objects);
  for (const std::string& object : objects) {
    void* handle = dlopen(object.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!handle) continue;
    void* candidate = accept(lookup(handle, name));
    dlclose(handle);
    if (candidate) return candidate;
  }
  return nullptr;
}

}  // namespace oomtrace::interpose
