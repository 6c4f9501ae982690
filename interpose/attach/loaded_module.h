// What the GOT patcher and the dlopen hook read from a module the dynamic
// linker has already loaded: its dynamic section's tables, found through
// dl_iterate_phdr. Reading memory only, no call into the loader, so these
// are safe inside a dl_iterate_phdr callback (which holds the loader's list
// lock; dladdr or dlopen there could deadlock against a thread in dlopen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <link.h>

namespace oomtrace::interpose {

struct DynamicTables {
  const ElfW(Sym)* symbols = nullptr;
  const char* strings = nullptr;
  size_t strings_size = 0;
  const ElfW(Rela)* rela = nullptr;
  size_t rela_bytes = 0;
  const ElfW(Rel)* rel = nullptr;
  size_t rel_bytes = 0;
  // DT_JMPREL: Rela or Rel entries, as DT_PLTREL says.
  const void* plt_relocations = nullptr;
  size_t plt_relocation_bytes = 0;
  bool plt_relocations_are_rela = true;
  const uint32_t* gnu_hash = nullptr;
  const uint32_t* sysv_hash = nullptr;
  // Colon-separated search paths, nullptr when the module has none.
  const char* runpath = nullptr;
  const char* rpath = nullptr;
};

// False when the module has no dynamic section or no symbol/string table.
bool read_dynamic_tables(const dl_phdr_info& module, DynamicTables* tables);

// True when the module itself defines `name` (not merely imports it).
bool module_defines_symbol(const DynamicTables& tables, const char* name);

bool module_contains_address(const dl_phdr_info& module, const void* address);

// The pages the loader made read-only after relocating (PT_GNU_RELRO);
// empty (begin == end) when the module has none.
struct PageRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  bool contains(uintptr_t address) const { return address >= begin && address < end; }
};
PageRange read_only_after_relocation(const dl_phdr_info& module);

// The dynamic linker itself and the kernel's vdso: modules that are never
// patched (ld.so resolves our own calls; the vdso imports nothing).
bool is_loader_or_vdso(const dl_phdr_info& module);

}  // namespace oomtrace::interpose
