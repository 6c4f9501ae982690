// The GOT patcher itself, independent of what it redirects: given imported
// symbol names and their replacements, it rewrites the import slots of every
// loaded module and can put them back. got_patching.cpp holds the one
// instance the library uses, fed by hooked_imports.cpp (the hook table);
// tests feed it their own table.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "interpose/attach/got_patching.h"

struct dl_phdr_info;

namespace oomtrace::interpose {

struct SlotReplacement {
  std::string symbol;
  void* replacement;
};

struct GotPatcherRules {
  std::vector<SlotReplacement> replacements;
  // Modules that define this symbol are never patched: every copy of
  // liboomtrace.so (their wrappers call the real functions through their
  // own resolution, never through the GOT). Empty: none skipped this way.
  std::string skip_modules_defining;
};

// What the process-wide patcher replaces: hooked_imports.cpp in the
// library, a test table in tests/attach.
GotPatcherRules process_patch_rules();

class GotPatcher {
 public:
  explicit GotPatcher(GotPatcherRules rules);
  GotPatcher(const GotPatcher&) = delete;
  GotPatcher& operator=(const GotPatcher&) = delete;

  GotPatchSummary patch_new_modules();
  // The dlopen hook's entry: patches only while accepting, decided under the
  // same lock as restore_all, so no module is patched after a detach.
  GotPatchSummary patch_new_modules_if_accepting();
  void set_accepting_new_modules(bool accepting);
  size_t restore_all();

 private:
  struct PatchedSlot {
    void** slot;
    void* original;
    void* written;
  };
  // A module is known by its load address and the loader's name for it.
  struct PatchedModule {
    uintptr_t base;
    std::string name;
    std::vector<PatchedSlot> slots;
    bool seen_in_walk;
  };
  struct Walk;
  static int visit_for_patch(dl_phdr_info* info, size_t size, void* data);
  static int patch_visited_module(dl_phdr_info* info, size_t size, void* data);
  static int visit_for_restore(dl_phdr_info* info, size_t size, void* data);
  GotPatchSummary patch_locked();
  const void* replacement_for(std::string_view symbol) const;

  std::mutex mutex_;
  // Sorted by symbol, for binary search per relocation.
  std::vector<SlotReplacement> replacements_;
  std::string skip_modules_defining_;
  std::vector<PatchedModule> modules_;
  bool accepting_new_modules_ = false;
  // The loader's load/unload counters at the last complete walk: when they
  // have not moved, no module came or went, and the walk is skipped.
  bool walked_ = false;
  unsigned long long adds_seen_ = 0;
  unsigned long long subs_seen_ = 0;
};

}  // namespace oomtrace::interpose
