// Sees PyTorch's c10::OutOfMemoryError as it is thrown, from C++ (libtorch
// programs) and from Python alike, since the Python exception is translated
// from the C++ one. The exception itself is passed on untouched: the real
// __cxa_throw is called with the same three arguments, always.
#include <cstring>
#include <dlfcn.h>
#include <exception>
#include <typeinfo>

#include "interpose/export.h"
#include "interpose/recorder.h"
#include "interpose/hook_scope.h"
#include "interpose/symbol_resolution.h"

namespace {

// GCC predeclares __cxa_throw with the type_info as void*; same ABI.
using CxaThrow = void (*)(void*, void*, void (*)(void*));

CxaThrow real_cxa_throw() {
  static CxaThrow real = reinterpret_cast<CxaThrow>(oomtrace::interpose::find_real_symbol("__cxa_throw", false));
  return real;
}

// "N3c1018OutOfMemoryErrorE" and any other framework's *OutOfMemoryError.
bool is_out_of_memory_type(const std::type_info* type) {
  const char* name = type ? type->name() : nullptr;
  return name && std::strstr(name, "OutOfMemoryError") != nullptr;
}

// The thrown object seen as std::exception, if it is one: the same pointer
// adjustment a `catch (const std::exception&)` would make.
const std::exception* as_std_exception(void* thrown, std::type_info* type) {
  void* adjusted = thrown;
  if (!typeid(std::exception).__do_catch(type, &adjusted, 1)) return nullptr;
  return static_cast<const std::exception*>(adjusted);
}

void note_thrown_out_of_memory(void* thrown, std::type_info* type) {
  oomtrace::interpose::HookScope scope;
  if (!scope.outermost()) return;
  oomtrace::interpose::ErrnoKeeper keep_errno;
  try {
    const std::exception* error = as_std_exception(thrown, type);
    if (!error) return;
    const char* message = error->what();
    if (message) oomtrace::interpose::record_framework_error("pytorch", message);
  } catch (...) {
    // Whatever happens here must not disturb the program's own exception.
  }
}

}  // namespace

OOMTRACE_EXPORT [[noreturn]] void __cxa_throw(void* thrown, void* type_info, void (*destructor)(void*)) {
  auto* type = static_cast<std::type_info*>(type_info);
  if (is_out_of_memory_type(type)) note_thrown_out_of_memory(thrown, type);
  CxaThrow real = real_cxa_throw();
  if (!real) std::terminate();  // no C++ runtime to throw with: what it would do
  real(thrown, type_info, destructor);
  __builtin_unreachable();
}

// The same function under a name of our own, for the GOT patching of an
// attached process (attach/hooked_imports.cpp): naming __cxa_throw there
// would mean the C++ runtime's declaration.
extern "C" __attribute__((visibility("hidden"), alias("__cxa_throw"), cold)) [[noreturn]] void
oomtrace_cxa_throw_hook(void* thrown, void* type_info, void (*destructor)(void*));
