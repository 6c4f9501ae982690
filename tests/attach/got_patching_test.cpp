// The GOT patcher and the dlopen hook, as liboomtrace.so runs them after an
// attach, on test modules (got_*.c) with the test table (test_patch_rules.cpp):
// victim_target (adds 1) is redirected to got_test_replacement (adds 1000).
// Every test restores what it patched, so each starts from the original
// bindings; a module, once loaded, stays loaded for the tests that follow.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <link.h>
#include <sstream>
#include <string>
#include <vector>

#include "interpose/attach/got_patching.h"

extern "C" {
int victim_target(int x);
int victim_call(int x);
int (*victim_target_address(void))(int);
void* victim_dlopen(const char* file, int mode);
int got_test_replacement(int x);
}

namespace {

using namespace oomtrace::interpose;
using IntFunction = int (*)(int);
using AddressFunction = IntFunction (*)();
using DlopenFunction = void* (*)(const char*, int);

// What a program that rewrote its own slot installed there.
int program_choice(int x) { return x + 7; }

std::string in_test_dir(const std::string& name) { return std::string(GOT_TEST_DIR) + "/" + name; }

void* load_now(const std::string& name) {
  void* handle = dlopen(in_test_dir(name).c_str(), RTLD_NOW | RTLD_LOCAL);
  INFO(dlerror());
  REQUIRE(handle != nullptr);
  return handle;
}

template <typename Function>
Function symbol_of(void* handle, const char* name) {
  auto function = reinterpret_cast<Function>(dlsym(handle, name));
  REQUIRE(function != nullptr);
  return function;
}

IntFunction real_victim_target() {
  return reinterpret_cast<IntFunction>(dlsym(RTLD_DEFAULT, "victim_target"));
}

bool summary_names(const GotPatchSummary& summary, const std::string& ending) {
  for (const std::string& name : summary.module_names) {
    if (name.size() >= ending.size() && name.compare(name.size() - ending.size(), ending.size(), ending) == 0) {
      return true;
    }
  }
  return false;
}

struct Mapping {
  uintptr_t begin;
  uintptr_t end;
  std::string permissions;
};

std::vector<Mapping> mappings_of(const std::string& file_name) {
  std::vector<Mapping> found;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, permissions, offset, device, inode, path;
    fields >> range >> permissions >> offset >> device >> inode >> path;
    if (path.size() < file_name.size() + 1 ||
        path.compare(path.size() - file_name.size() - 1, std::string::npos, "/" + file_name) != 0) {
      continue;
    }
    size_t dash = range.find('-');
    found.push_back({std::stoull(range.substr(0, dash), nullptr, 16),
                     std::stoull(range.substr(dash + 1), nullptr, 16), permissions});
  }
  return found;
}

std::vector<std::string> permissions_of(const std::string& file_name) {
  std::vector<std::string> permissions;
  for (const Mapping& mapping : mappings_of(file_name)) permissions.push_back(mapping.permissions);
  return permissions;
}

// Leaves the process as the tests found it, also when a check failed.
struct RestoreAtEnd {
  ~RestoreAtEnd() {
    set_patching_new_modules(false);
    restore_patched_slots();
  }
};

}  // namespace

TEST_CASE("modules loaded before patching call the replacement until restored", "[got]") {
  RestoreAtEnd restore_at_end;
  // Full RELRO: its whole GOT is read-only once loaded.
  void* full_relro = load_now("libgot_victim_now.so");
  auto relro_call = symbol_of<IntFunction>(full_relro, "victim_call");
  auto relro_address = symbol_of<AddressFunction>(full_relro, "victim_target_address");
  std::vector<std::string> relro_permissions = permissions_of("libgot_victim_now.so");
  REQUIRE(victim_call(1) == 2);
  REQUIRE(relro_call(1) == 2);
  REQUIRE(victim_target(1) == 2);

  GotPatchSummary summary = patch_loaded_modules();
  CHECK(summary.modules == summary.module_names.size());
  CHECK(summary_names(summary, "/libgot_victim.so"));
  CHECK(summary_names(summary, "/libgot_victim_now.so"));
  CHECK(summary_names(summary, "/got_patching_test"));  // the main program, by its file
  CHECK_FALSE(summary_names(summary, "/liboomtrace_got_test.so"));  // never the patcher's own
  CHECK_FALSE(summary_names(summary, "/libgot_target.so"));  // defines victim_target, imports nothing
  // Each victim: victim_target (one GLOB_DAT serves the call and the
  // address) and dlopen; the main program: victim_target and dlopen.
  CHECK(summary.slots >= 3 * 2);

  CHECK(victim_call(1) == 1001);           // lazily bound module
  CHECK(relro_call(1) == 1001);            // read-only GOT
  CHECK(victim_target(1) == 1001);         // the main program
  CHECK(victim_target_address() == &got_test_replacement);
  CHECK(relro_address() == &got_test_replacement);
  CHECK(permissions_of("libgot_victim_now.so") == relro_permissions);

  // Nothing was loaded since: nothing more to patch.
  CHECK(patch_loaded_modules().slots == 0);

  CHECK(restore_patched_slots() == summary.slots);
  CHECK(victim_call(1) == 2);
  CHECK(relro_call(1) == 2);
  CHECK(victim_target(1) == 2);
  CHECK(victim_target_address() == real_victim_target());
  CHECK(relro_address() == real_victim_target());
  CHECK(permissions_of("libgot_victim_now.so") == relro_permissions);
}

TEST_CASE("restore leaves alone a slot the program rewrote since", "[got]") {
  RestoreAtEnd restore_at_end;
  void* handle = load_now("libgot_rewritten.so");
  auto late_call = symbol_of<IntFunction>(handle, "late_call");
  REQUIRE(patch_loaded_modules().slots > 0);
  REQUIRE(late_call(1) == 1001);
  // Its call goes through a lazily bound PLT slot, outside RELRO: find the
  // slot by its value and rewrite it, as a program (or another tool) might.
  void** rewritten = nullptr;
  for (const Mapping& mapping : mappings_of("libgot_rewritten.so")) {
    if (mapping.permissions.compare(0, 2, "rw") != 0) continue;
    for (uintptr_t word = mapping.begin; word + sizeof(void*) <= mapping.end; word += sizeof(void*)) {
      auto** slot = reinterpret_cast<void**>(word);
      if (*slot == reinterpret_cast<void*>(&got_test_replacement)) rewritten = slot;
    }
  }
  REQUIRE(rewritten != nullptr);
  *rewritten = reinterpret_cast<void*>(&program_choice);
  REQUIRE(late_call(1) == 8);

  CHECK(restore_patched_slots() > 0);
  CHECK(late_call(1) == 8);
  CHECK(victim_call(1) == 2);  // everyone else's slots: restored
}

TEST_CASE("a module dlopen()ed through a patched slot is patched", "[got][dlopen]") {
  RestoreAtEnd restore_at_end;
  set_patching_new_modules(true);
  patch_loaded_modules();
  void* late = victim_dlopen("libgot_late.so", RTLD_NOW);
  INFO(dlerror());
  REQUIRE(late != nullptr);
  auto late_call = symbol_of<IntFunction>(late, "late_call");
  CHECK(late_call(1) == 1001);
  // Its patches are restored with everyone else's.
  restore_patched_slots();
  CHECK(late_call(1) == 2);
}

TEST_CASE("with patching new modules off the dlopen wrapper only forwards", "[got][dlopen]") {
  RestoreAtEnd restore_at_end;
  set_patching_new_modules(true);
  patch_loaded_modules();
  set_patching_new_modules(false);  // what detach does first
  void* late = victim_dlopen("libgot_late_off.so", RTLD_NOW);
  INFO(dlerror());
  REQUIRE(late != nullptr);
  CHECK(symbol_of<IntFunction>(late, "late_call")(1) == 2);
  CHECK(victim_call(1) == 1001);  // what was patched stays so until restored
}

TEST_CASE("a module that defines the skip marker is never patched", "[got]") {
  RestoreAtEnd restore_at_end;
  set_patching_new_modules(true);
  patch_loaded_modules();
  void* marked = victim_dlopen("libgot_marked.so", RTLD_NOW);
  REQUIRE(marked != nullptr);
  CHECK(symbol_of<IntFunction>(marked, "marked_call")(1) == 2);
  CHECK_FALSE(summary_names(patch_loaded_modules(), "/libgot_marked.so"));
}

TEST_CASE("a bare name is searched along the calling module's own RUNPATH or RPATH",
          "[got][dlopen]") {
  RestoreAtEnd restore_at_end;
  struct Case {
    const char* caller;
    const char* plugin;
    const char* folder;
  };
  // RUNPATH "$ORIGIN/runpath_plugins"; RPATH "${ORIGIN}/rpath_plugins".
  for (Case c : {Case{"libgot_runpath_caller.so", "libgot_runpath_plugin.so", "/runpath_plugins/"},
                 Case{"libgot_rpath_caller.so", "libgot_rpath_plugin.so", "/rpath_plugins/"}}) {
    INFO(c.caller);
    // Only the caller's own path leads there: from here the name is not found.
    REQUIRE(dlopen(c.plugin, RTLD_NOW) == nullptr);
    auto caller_dlopen = symbol_of<DlopenFunction>(load_now(c.caller), "caller_dlopen");
    set_patching_new_modules(true);
    patch_loaded_modules();
    void* plugin = caller_dlopen(c.plugin, RTLD_NOW);
    INFO(dlerror());
    REQUIRE(plugin != nullptr);
    // Patched on arrival: it came through the wrapper.
    CHECK(symbol_of<IntFunction>(plugin, "late_call")(1) == 1001);
    link_map* map = nullptr;
    REQUIRE(dlinfo(plugin, RTLD_DI_LINKMAP, &map) == 0);
    CHECK(std::strstr(map->l_name, c.folder) != nullptr);
    // Loaded already: the same module again, by name.
    CHECK(caller_dlopen(c.plugin, RTLD_NOW) == plugin);
    restore_patched_slots();
  }
}

TEST_CASE("the dlopen wrapper fails and succeeds as dlopen does", "[got][dlopen]") {
  RestoreAtEnd restore_at_end;
  auto caller_dlopen = symbol_of<DlopenFunction>(load_now("libgot_runpath_caller.so"), "caller_dlopen");
  set_patching_new_modules(true);
  patch_loaded_modules();
  dlerror();
  CHECK(caller_dlopen("libgot_missing.so", RTLD_NOW) == nullptr);
  const char* error = dlerror();
  REQUIRE(error != nullptr);
  CHECK(std::strstr(error, "libgot_missing.so") != nullptr);
  CHECK(victim_dlopen(nullptr, RTLD_NOW) == dlopen(nullptr, RTLD_NOW));
  CHECK(victim_dlopen(in_test_dir("libgot_late.so").c_str(), RTLD_NOW) != nullptr);
}

TEST_CASE("a module unloaded after patching is forgotten, never written", "[got]") {
  RestoreAtEnd restore_at_end;
  void* handle = load_now("libgot_unloaded.so");
  GotPatchSummary summary = patch_loaded_modules();
  REQUIRE(summary_names(summary, "/libgot_unloaded.so"));
  REQUIRE(dlclose(handle) == 0);
  REQUIRE(dlopen(in_test_dir("libgot_unloaded.so").c_str(), RTLD_NOW | RTLD_NOLOAD) == nullptr);
  // Loaded again between two walks (most likely at the same address): its
  // fresh slots are patched, not taken for the ones patched before.
  handle = load_now("libgot_unloaded.so");
  CHECK(summary_names(patch_loaded_modules(), "/libgot_unloaded.so"));
  CHECK(symbol_of<IntFunction>(handle, "late_call")(1) == 1001);
  REQUIRE(dlclose(handle) == 0);
  // Its slots are not restored now (its memory is gone); everyone else's are.
  size_t restored = restore_patched_slots();
  CHECK(restored > 0);
  CHECK(restored < summary.slots);
  CHECK(victim_call(1) == 2);
}
