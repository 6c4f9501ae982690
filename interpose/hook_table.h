// The table generated from hooked_functions.def: for each hooked function its
// name, the library it belongs to, our wrapper, and the real function (found
// lazily, never our own wrapper).
#pragma once

#include <atomic>
#include <cstddef>

#include "interpose/cuda_declarations.h"
#include "interpose/hooked_functions.def"

namespace oomtrace::interpose {

enum class Library { Runtime, Driver };

enum class Hook : size_t {
#define OOMTRACE_HOOK_ENUM(library, name) name,
  OOMTRACE_HOOKED_FUNCTIONS(OOMTRACE_HOOK_ENUM)
#undef OOMTRACE_HOOK_ENUM
  Count
};

struct HookEntry {
  const char* name;
  Library library;
  void* wrapper;
  std::atomic<void*> real;
};

HookEntry& hook_entry(Hook hook);

// The real function behind a hook, resolved on first use; nullptr when no
// loaded library defines it.
void* resolve_real(Hook hook);
// Resolves every entry now, so that the program's threads never search the
// loaded objects from inside a wrapper (an attach does this before it
// patches the import tables).
void resolve_all_real_functions();

template <Hook H, typename Function>
Function* real_function() {
  return reinterpret_cast<Function*>(resolve_real(H));
}

// Lookups: given a pointer the real driver or runtime handed out, our
// wrapper for it, or nullptr when it is not a hooked function.
void* wrapper_for_real_driver_function(void* real);
// dlsym: the wrapper for `name` when `found` is that function's real address.
void* wrapper_for_symbol(const char* name, void* found);

}  // namespace oomtrace::interpose

// Typed access to the real function: REAL(cudaMalloc)(ptr, size).
#define OOMTRACE_REAL(name)                                                     \
  (::oomtrace::interpose::real_function<::oomtrace::interpose::Hook::name,       \
                                        decltype(::name)>())
