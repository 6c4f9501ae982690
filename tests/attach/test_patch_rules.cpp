// The table the patcher gets in the test library: victim_target in place of
// the CUDA API, and dlopen as in liboomtrace.so.
#include "interpose/attach/dlopen_hook.h"
#include "interpose/attach/got_patcher.h"

// What patched calls reach: the original adds 1, this adds 1000.
extern "C" int got_test_replacement(int x) { return x + 1000; }

namespace oomtrace::interpose {

GotPatcherRules process_patch_rules() {
  GotPatcherRules rules;
  rules.replacements.push_back({"victim_target", reinterpret_cast<void*>(&got_test_replacement)});
  rules.replacements.push_back({"dlopen", reinterpret_cast<void*>(&oomtrace_dlopen_wrapper)});
  // A module exporting this is skipped, as every copy of liboomtrace.so is.
  rules.skip_modules_defining = "got_test_skip_marker";
  return rules;
}

}  // namespace oomtrace::interpose
