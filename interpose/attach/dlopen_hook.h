// The dlopen that patched modules call in an attached process.
#pragma once

#include "interpose/attach/got_patching.h"

// Hidden: reached only through GOT slots the patcher rewrote (a program
// looking dlopen up by name still gets glibc's).
extern "C" __attribute__((visibility("hidden"))) void* oomtrace_dlopen_wrapper(const char* file,
                                                                               int mode);

namespace oomtrace::interpose {

// Patches what a dlopen just loaded, unless patching new modules is off
// (set_patching_new_modules): got_patching.cpp.
GotPatchSummary patch_modules_loaded_by_dlopen();

}  // namespace oomtrace::interpose
