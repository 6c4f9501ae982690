// Attach-time interposition. A library that is dlopen()ed into a running
// process is not on the symbol search path the program's modules were bound
// through, so their calls to cudaMalloc, cuMemAlloc_v2, dlsym... still go
// straight to the real functions. Patching each module's import slots
// (GOT entries, JUMP_SLOT and GLOB_DAT relocations) to our wrappers redirects
// them; dlopen itself is redirected too, so modules loaded later are patched
// as they arrive (dlopen_hook.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace oomtrace::interpose {

struct GotPatchSummary {
  size_t modules = 0;  // modules in which at least one slot was changed
  size_t slots = 0;    // slots changed
  std::vector<std::string> module_names;
};

// Points every GOT slot, in every loaded module, that imports a function we
// wrap at our wrapper. Modules patched before are skipped, so calling it
// again only patches what was loaded since.
GotPatchSummary patch_loaded_modules();

// Restores every slot we changed that still holds our wrapper (a slot the
// program rewrote since is left alone) and forgets every patched module, so
// that a later attach patches afresh. Returns the number of slots restored.
size_t restore_patched_slots();

// While on, a dlopen through a patched slot patches the modules it loaded.
// Off (the default, and after detach) the dlopen wrapper only forwards.
void set_patching_new_modules(bool on);

}  // namespace oomtrace::interpose
