#include "interpose/hook_table.h"

#include <cstring>

#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

HookEntry g_entries[] = {
#define OOMTRACE_HOOK_ENTRY(library, name) \
  {#name, Library::library, reinterpret_cast<void*>(&::name), {nullptr}},
    OOMTRACE_HOOKED_FUNCTIONS(OOMTRACE_HOOK_ENTRY)
#undef OOMTRACE_HOOK_ENTRY
};

static_assert(sizeof g_entries / sizeof g_entries[0] == static_cast<size_t>(Hook::Count));

// A driver function that the loaded driver does not define (cuCtxCreate_v4 on
// an older driver) is remembered as absent, so that the hundreds of lookups a
// runtime makes at start-up do not each search every loaded object again.
void* const kAbsent = reinterpret_cast<void*>(1);

void* resolve_entry(HookEntry& entry) {
  void* real = entry.real.load(std::memory_order_acquire);
  if (real) return real == kAbsent ? nullptr : real;
  bool is_driver = entry.library == Library::Driver;
  real = find_real_symbol(entry.name, is_driver);
  // Racing threads find the same address, so a plain store is fine. The
  // runtime may be loaded later, so only the driver's answer is final.
  if (real) {
    entry.real.store(real, std::memory_order_release);
  } else if (is_driver && loaded_driver_handle()) {
    entry.real.store(kAbsent, std::memory_order_release);
  }
  return real;
}

}  // namespace

HookEntry& hook_entry(Hook hook) { return g_entries[static_cast<size_t>(hook)]; }

void* resolve_real(Hook hook) { return resolve_entry(hook_entry(hook)); }

void resolve_all_real_functions() {
  for (HookEntry& entry : g_entries) resolve_entry(entry);
}

void* wrapper_for_real_driver_function(void* real) {
  if (!real) return nullptr;
  for (HookEntry& entry : g_entries) {
    if (entry.library != Library::Driver) continue;
    if (resolve_entry(entry) == real) return entry.wrapper;
  }
  return nullptr;
}

void* wrapper_for_symbol(const char* name, void* found) {
  if (!name || !found) return nullptr;
  for (HookEntry& entry : g_entries) {
    if (std::strcmp(entry.name, name) != 0) continue;
    return resolve_entry(entry) == found ? entry.wrapper : nullptr;
  }
  return nullptr;
}

}  // namespace oomtrace::interpose
