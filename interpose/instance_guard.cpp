#include "interpose/instance_guard.h"

#include <atomic>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>

#include "interpose/export.h"
#include "interpose/symbol_resolution.h"

// The marker every copy exports. Its value is not used: only which object
// defines it.
OOMTRACE_EXPORT const char* oomtrace_instance_marker() { return "oomtrace instance 1"; }

namespace oomtrace::interpose {
namespace {

constexpr const char* kMarkerName = "oomtrace_instance_marker";
constexpr size_t kMaxInstances = 8;

enum Role : int { kUndecided = 0, kRecords = 1, kPassesThrough = 2 };

std::atomic<int> g_role{kUndecided};
std::atomic<bool> g_publishing{false};
InstanceFile g_files[kMaxInstances];
std::atomic<size_t> g_file_count{0};

void* own_base() {
  static void* base = [] {
    Dl_info info{};
    dladdr(reinterpret_cast<void*>(&oomtrace_instance_marker), &info);
    return info.dli_fbase;
  }();
  return base;
}

// The base of the object named `name` when that object itself defines the
// marker; nullptr otherwise (a dlsym on a handle also searches the object's
// dependencies, so the definition's own object is checked).
void* instance_base(const char* name) {
  if (!name || name[0] == '\0') return nullptr;
  DlsymFunction lookup = real_dlsym();
  if (!lookup) return nullptr;
  void* handle = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return nullptr;
  void* marker = lookup(handle, kMarkerName);
  dlclose(handle);
  // Failed lookups of ours must not leave an error for the program's dlerror().
  dlerror();
  if (!marker) return nullptr;
  Dl_info info{};
  if (!dladdr(marker, &info) || !info.dli_fname || std::strcmp(info.dli_fname, name) != 0) {
    return nullptr;
  }
  return info.dli_fbase;
}

struct Scan {
  void* first_base = nullptr;
  InstanceFile files[kMaxInstances];
  size_t count = 0;
};

// dl_iterate_phdr visits objects in load order, RTLD_LOCAL ones included.
int visit_object(struct dl_phdr_info* info, size_t, void* data) {
  auto* scan = static_cast<Scan*>(data);
  void* base = instance_base(info->dlpi_name);
  if (!base) return 0;
  if (!scan->first_base) scan->first_base = base;
  if (scan->count < kMaxInstances) {
    InstanceFile& file = scan->files[scan->count++];
    struct stat status{};
    bool known = ::stat(info->dlpi_name, &status) == 0;
    file.device = known ? status.st_dev : 0;
    file.inode = known ? status.st_ino : 0;
    file.path = info->dlpi_name;
  }
  return 0;
}

int decide() {
  Scan scan;
  dl_iterate_phdr(&visit_object, &scan);
  // Not found at all (a loader that names objects differently): record, as
  // a single copy always does.
  int role = !scan.first_base || scan.first_base == own_base() ? kRecords : kPassesThrough;
  // Every instance and every racing thread reaches the same answer; the
  // first one publishes it together with the files it saw.
  if (!g_publishing.exchange(true)) {
    for (size_t i = 0; i < scan.count; ++i) g_files[i] = scan.files[i];
    g_file_count.store(scan.count, std::memory_order_release);
    g_role.store(role, std::memory_order_release);
  }
  return role;
}

}  // namespace

bool this_instance_records() {
  int role = g_role.load(std::memory_order_acquire);
  if (role == kUndecided) role = decide();
  return role == kRecords;
}

bool is_inside_an_instance(const void* address) {
  Dl_info info{};
  if (!dladdr(address, &info)) return false;
  if (info.dli_fbase == own_base()) return true;
  return info.dli_fbase && instance_base(info.dli_fname) == info.dli_fbase;
}

size_t instance_files(const InstanceFile** files) {
  if (g_role.load(std::memory_order_acquire) == kUndecided) this_instance_records();
  *files = g_files;
  return g_file_count.load(std::memory_order_acquire);
}

}  // namespace oomtrace::interpose
