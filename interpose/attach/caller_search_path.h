// glibc's dlopen searches for a bare file name ("libfoo.so") along the
// DT_RUNPATH or DT_RPATH of the module that called it, with $ORIGIN meaning
// that module's folder, and it recognises the caller by return address. A
// wrapper that calls dlopen becomes that caller, so the program's module
// would lose its own search path; this searches it for the wrapper.
#pragma once

namespace oomtrace::interpose {

using DlopenFunction = void* (*)(const char*, int);

// dlopen(file, mode) as if the module containing `caller` had called it.
void* dlopen_for_caller(DlopenFunction real_dlopen, const char* file, int mode,
                        const void* caller);

}  // namespace oomtrace::interpose
