// dlsym on the driver's handle is how older PyTorch, Triton and statically
// linked cudart reach cuGetProcAddress and the allocation functions: such a
// lookup never searches preloaded objects, so it is interposed here. Only a
// pointer that is the real address of a function in hooked_functions.def is
// replaced; every other lookup returns exactly what glibc returned.
#include <dlfcn.h>

#include "interpose/hook_table.h"
#include "interpose/symbol_resolution.h"

extern "C" {

__attribute__((visibility("hidden"))) OOMTRACE_NOT_SANITIZED void* oomtrace_real_dlsym_address() {
  return reinterpret_cast<void*>(oomtrace::interpose::real_dlsym());
}

__attribute__((visibility("hidden"))) OOMTRACE_NOT_SANITIZED void* oomtrace_dlsym_impl(void* handle,
                                                                         const char* name) {
  auto lookup = oomtrace::interpose::real_dlsym();
  if (!lookup) return nullptr;
  void* found = lookup(handle, name);
  // Only CUDA names can be ours; cheap filter before the table walk.
  if (!found || !name || name[0] != 'c' || name[1] != 'u') return found;
  void* wrapper = oomtrace::interpose::wrapper_for_symbol(name, found);
  // Resolving the table may have run failing lookups of our own; the caller's
  // lookup succeeded, so dlerror() must report nothing.
  dlerror();
  return wrapper ? wrapper : found;
}

}  // extern "C"
