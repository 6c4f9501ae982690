// Loads liboomtrace.so into a running process through ptrace, with no
// debugger: the project's own injector, for x86-64 and AArch64.
//
// It borrows one thread for two calls into the target's own libc and the
// library: dlopen (glibc >= 2.34 exports it from libc; older ones only have
// __libc_dlopen_mode) and oomtrace_attach_begin, which starts a thread of
// the library's own and returns. The borrowed thread is one that holds no
// lock of the C library or the loader: a thread the stop found blocked in a
// sleeping system call, else the first to reach the entry of malloc or free
// (breakpoints, with every thread traced so none can trip over them). Its
// registers, and a system call it was in, are restored afterwards.
#pragma once

#include <string>
#include <sys/types.h>

namespace oomtrace::cli {

struct InjectionRequest {
  pid_t pid = 0;
  std::string library_in_target;  // the path the target's dlopen will see
  std::string library_here;       // the same file, as this command opens it
  std::string options;            // for oomtrace_attach_begin
};

struct InjectionResult {
  bool ok = false;
  int ptrace_errno = 0;   // set when the process could not be traced at all
  int begin_result = -1;  // what oomtrace_attach_begin returned
  std::string error;      // one line
};

InjectionResult inject_library(const InjectionRequest& request);

}  // namespace oomtrace::cli
