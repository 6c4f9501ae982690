/* A module that imports victim_target and dlopen, the way a program's
 * module imports cudaMalloc: a call (JUMP_SLOT), an address taken
 * (GLOB_DAT) and a dlopen of its own. Built twice: lazily bound, and with
 * full RELRO (a read-only GOT). */
#include <dlfcn.h>

int victim_target(int x);

int victim_call(int x) { return victim_target(x); }

int (*victim_target_address(void))(int) { return &victim_target; }

void* victim_dlopen(const char* file, int mode) { return dlopen(file, mode); }
