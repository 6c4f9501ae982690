// What patching redirects in an attached process: every function of the
// hook table, dlsym (the lookups that hand out driver functions) and dlopen
// (so that modules loaded later are patched too).
#include <dlfcn.h>

#include "interpose/attach/dlopen_hook.h"
#include "interpose/attach/got_patcher.h"
#include "interpose/hook_table.h"
#include "interpose/symbol_resolution.h"

// interpose/cxa_throw_hook.cpp: our exported __cxa_throw, under a second
// name this file can take the address of without naming the C++ runtime's.
extern "C" [[noreturn]] void oomtrace_cxa_throw_hook(void*, void*, void (*)(void*));

namespace oomtrace::interpose {
namespace {

// With -Bsymbolic our own references bind to our own definitions; checked
// anyway, because writing glibc's dlsym into a slot in place of ours (or a
// stranger's wrapper) would silently lose every lookup.
void add_if_ours(GotPatcherRules& rules, const char* symbol, void* replacement) {
  if (replacement && is_inside_this_library(replacement)) {
    rules.replacements.push_back({symbol, replacement});
  }
}

}  // namespace

GotPatcherRules process_patch_rules() {
  GotPatcherRules rules;
  // Every copy of liboomtrace.so exports the marker (instance_guard.h).
  rules.skip_modules_defining = "oomtrace_instance_marker";
  for (size_t i = 0; i < static_cast<size_t>(Hook::Count); ++i) {
    HookEntry& entry = hook_entry(static_cast<Hook>(i));
    add_if_ours(rules, entry.name, entry.wrapper);
  }
  // Our exported dlsym is the assembly entry in dlsym_entry.S: it keeps the
  // caller's return address for RTLD_NEXT, which matters here too, since
  // the caller is now the patched module.
  add_if_ours(rules, "dlsym", reinterpret_cast<void*>(&::dlsym));
  add_if_ours(rules, "dlopen", reinterpret_cast<void*>(&oomtrace_dlopen_wrapper));
  // A framework's out-of-memory exception (c10::OutOfMemoryError) carries
  // figures no CUDA call shows; preloading catches it as it is thrown.
  add_if_ours(rules, "__cxa_throw", reinterpret_cast<void*>(&oomtrace_cxa_throw_hook));
  return rules;
}

}  // namespace oomtrace::interpose
