// The library's one patcher. Its table is process_patch_rules(): the hook
// table in liboomtrace.so (hooked_imports.cpp), a stand-in in the tests,
// which is why this file and the table live apart.
#include "interpose/attach/got_patching.h"

#include "interpose/attach/dlopen_hook.h"
#include "interpose/attach/got_patcher.h"

namespace oomtrace::interpose {
namespace {

// Built on first use, from the attach thread: never during a hook. Never
// destroyed: the attach thread and the dlopen hook may still use it while
// the process runs its exit handlers.
GotPatcher& process_patcher() {
  static GotPatcher* patcher = new GotPatcher(process_patch_rules());
  return *patcher;
}

}  // namespace

GotPatchSummary patch_loaded_modules() { return process_patcher().patch_new_modules(); }

size_t restore_patched_slots() { return process_patcher().restore_all(); }

void set_patching_new_modules(bool on) { process_patcher().set_accepting_new_modules(on); }

GotPatchSummary patch_modules_loaded_by_dlopen() {
  return process_patcher().patch_new_modules_if_accepting();
}

}  // namespace oomtrace::interpose
