// In an attached process the program's modules reach dlopen through GOT
// slots the patcher pointed here: the real dlopen loads the module, then
// the modules it brought in (it and its dependencies) are patched before
// the program can call into them.
//
// dlmopen is not redirected: it loads into another link-map namespace,
// whose modules have their own copies of libcudart and libc that our
// wrappers would not call, and the patcher leaves such modules alone.
#include "interpose/attach/dlopen_hook.h"

#include <cerrno>
#include <dlfcn.h>

#include "interpose/attach/caller_search_path.h"

namespace oomtrace::interpose {
namespace {

DlopenFunction g_real_dlopen = nullptr;

// glibc's dlopen, past any other interposer loaded before us, the way
// real_dlsym() finds dlsym: it moved from libdl to libc in glibc 2.34,
// under a new version.
DlopenFunction real_dlopen() {
  DlopenFunction function = __atomic_load_n(&g_real_dlopen, __ATOMIC_ACQUIRE);
  if (function) return function;
  void* found = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.34");
#if defined(__x86_64__)
  if (!found) found = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.2.5");
#elif defined(__aarch64__)
  if (!found) found = dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.17");
#endif
  // Our own import of dlopen is never patched, so it is glibc's too.
  function = found ? reinterpret_cast<DlopenFunction>(found) : &::dlopen;
  __atomic_store_n(&g_real_dlopen, function, __ATOMIC_RELEASE);
  return function;
}

}  // namespace
}  // namespace oomtrace::interpose

// noinline: the return address must be the patched module's call site.
extern "C" __attribute__((noinline)) void* oomtrace_dlopen_wrapper(const char* file, int mode) {
  const void* caller = __builtin_return_address(0);
  // The new module lands in the default namespace, where the caller is:
  // only modules of that namespace are ever patched.
  void* handle =
      oomtrace::interpose::dlopen_for_caller(oomtrace::interpose::real_dlopen(), file, mode, caller);
  if (handle) {
    // Patching leaves dlerror() alone, but mprotect may set errno.
    int saved_errno = errno;
    oomtrace::interpose::patch_modules_loaded_by_dlopen();
    errno = saved_errno;
  }
  return handle;
}
