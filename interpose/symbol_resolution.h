// Finding the real functions behind our exports, the way compiler-rt's
// interceptors do: RTLD_NEXT first, then the driver's own handle, then the
// global scope, then every loaded object; never an address inside
// liboomtrace.so itself (that would be our own wrapper and recurse forever).
#pragma once

namespace oomtrace::interpose {

// Code on the path from our exported dlsym to glibc's. A sanitizer's runtime
// calls dlsym(RTLD_NEXT, ...) while it initializes, before its shadow memory
// exists, so in sanitized builds (cmake/sanitize.cmake) that path must not
// be instrumented.
#define OOMTRACE_NOT_SANITIZED __attribute__((no_sanitize("address", "thread", "undefined")))

// glibc's dlsym, found with dlvsym so that our exported dlsym is bypassed.
using DlsymFunction = void* (*)(void*, const char*);
OOMTRACE_NOT_SANITIZED DlsymFunction real_dlsym();

// The driver library if the process has loaded it; never loads it: a process
// that does not use CUDA (bash, a DataLoader worker) must stay untouched.
void* loaded_driver_handle();

// A driver function straight from the driver's handle, never through our
// exports: the library's own calls (the probe at a failure, the baseline of
// an attach) must not be recorded as the program's. nullptr when the
// process has no driver or the driver lacks it.
template <typename Function>
Function* driver_function(const char* name) {
  void* driver = loaded_driver_handle();
  DlsymFunction lookup = real_dlsym();
  if (!driver || !lookup) return nullptr;
  return reinterpret_cast<Function*>(lookup(driver, name));
}

bool is_inside_this_library(const void* address);

void* find_real_symbol(const char* name, bool is_driver_function);

}  // namespace oomtrace::interpose
