/* A module whose own DT_RUNPATH or DT_RPATH ($ORIGIN-relative) is the only
 * way to find the plugin it dlopen()s by bare name. */
#include <dlfcn.h>

void* caller_dlopen(const char* file, int mode) { return dlopen(file, mode); }
