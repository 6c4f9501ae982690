#include "interpose/attach/loaded_module.h"

#include <cstring>
#include <sys/auxv.h>
#include <unistd.h>

namespace oomtrace::interpose {
namespace {

// glibc rewrites the d_ptr entries of most modules' dynamic sections to
// run-time addresses, but not the vdso's, and not on every architecture
// (MIPS, RISC-V keep them read-only). A value below the load base cannot be
// a run-time address of this module, so it is still a link-time one.
uintptr_t runtime_address(const dl_phdr_info& module, ElfW(Addr) value) {
  if (value < module.dlpi_addr) return module.dlpi_addr + value;
  return value;
}

template <typename T>
const T* table_at(const dl_phdr_info& module, ElfW(Addr) value) {
  return reinterpret_cast<const T*>(runtime_address(module, value));
}

const ElfW(Dyn)* dynamic_section(const dl_phdr_info& module) {
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = module.dlpi_phdr[i];
    if (segment.p_type == PT_DYNAMIC) {
      return reinterpret_cast<const ElfW(Dyn)*>(module.dlpi_addr + segment.p_vaddr);
    }
  }
  return nullptr;
}

uint32_t gnu_hash_of(const char* name) {
  uint32_t hash = 5381;
  for (auto* c = reinterpret_cast<const unsigned char*>(name); *c; ++c) hash = hash * 33 + *c;
  return hash;
}

uint32_t sysv_hash_of(const char* name) {
  uint32_t hash = 0;
  for (auto* c = reinterpret_cast<const unsigned char*>(name); *c; ++c) {
    hash = (hash << 4) + *c;
    uint32_t high = hash & 0xf0000000u;
    if (high) hash ^= high >> 24;
    hash &= ~high;
  }
  return hash;
}

bool is_definition_named(const DynamicTables& tables, uint32_t index, const char* name) {
  const ElfW(Sym)& symbol = tables.symbols[index];
  if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= tables.strings_size) return false;
  return std::strcmp(tables.strings + symbol.st_name, name) == 0;
}

// The layout of DT_GNU_HASH: nbuckets, symoffset, bloom size, bloom shift,
// the bloom words, the buckets, then one chain word per hashed symbol whose
// low bit ends the chain.
bool gnu_hash_defines(const DynamicTables& tables, const char* name) {
  const uint32_t* header = tables.gnu_hash;
  uint32_t bucket_count = header[0];
  uint32_t first_hashed = header[1];
  uint32_t bloom_words = header[2];
  if (bucket_count == 0) return false;
  auto* bloom = reinterpret_cast<const ElfW(Addr)*>(header + 4);
  auto* buckets = reinterpret_cast<const uint32_t*>(bloom + bloom_words);
  const uint32_t* chain = buckets + bucket_count;
  uint32_t hash = gnu_hash_of(name);
  uint32_t index = buckets[hash % bucket_count];
  if (index < first_hashed) return false;
  for (;; ++index) {
    uint32_t entry = chain[index - first_hashed];
    if ((entry | 1) == (hash | 1) && is_definition_named(tables, index, name)) return true;
    if (entry & 1) return false;
  }
}

bool sysv_hash_defines(const DynamicTables& tables, const char* name) {
  const uint32_t* header = tables.sysv_hash;
  uint32_t bucket_count = header[0];
  if (bucket_count == 0) return false;
  const uint32_t* buckets = header + 2;
  const uint32_t* chain = buckets + bucket_count;
  for (uint32_t index = buckets[sysv_hash_of(name) % bucket_count]; index != STN_UNDEF;
       index = chain[index]) {
    if (is_definition_named(tables, index, name)) return true;
  }
  return false;
}

}  // namespace

bool read_dynamic_tables(const dl_phdr_info& module, DynamicTables* tables) {
  *tables = DynamicTables{};
  const ElfW(Dyn)* dynamic = dynamic_section(module);
  if (!dynamic) return false;
  // Offsets into the string table, resolved once the table is known.
  ElfW(Addr) runpath_offset = 0;
  ElfW(Addr) rpath_offset = 0;
  bool has_runpath = false;
  bool has_rpath = false;
  for (const ElfW(Dyn)* entry = dynamic; entry->d_tag != DT_NULL; ++entry) {
    switch (entry->d_tag) {
      case DT_SYMTAB: tables->symbols = table_at<ElfW(Sym)>(module, entry->d_un.d_ptr); break;
      case DT_STRTAB: tables->strings = table_at<char>(module, entry->d_un.d_ptr); break;
      case DT_STRSZ: tables->strings_size = entry->d_un.d_val; break;
      case DT_RELA: tables->rela = table_at<ElfW(Rela)>(module, entry->d_un.d_ptr); break;
      case DT_RELASZ: tables->rela_bytes = entry->d_un.d_val; break;
      case DT_REL: tables->rel = table_at<ElfW(Rel)>(module, entry->d_un.d_ptr); break;
      case DT_RELSZ: tables->rel_bytes = entry->d_un.d_val; break;
      case DT_JMPREL: tables->plt_relocations = table_at<char>(module, entry->d_un.d_ptr); break;
      case DT_PLTRELSZ: tables->plt_relocation_bytes = entry->d_un.d_val; break;
      case DT_PLTREL: tables->plt_relocations_are_rela = entry->d_un.d_val == DT_RELA; break;
      case DT_GNU_HASH: tables->gnu_hash = table_at<uint32_t>(module, entry->d_un.d_ptr); break;
      case DT_HASH: tables->sysv_hash = table_at<uint32_t>(module, entry->d_un.d_ptr); break;
      case DT_RUNPATH: runpath_offset = entry->d_un.d_val; has_runpath = true; break;
      case DT_RPATH: rpath_offset = entry->d_un.d_val; has_rpath = true; break;
      default: break;
    }
  }
  if (!tables->symbols || !tables->strings) return false;
  if (has_runpath && runpath_offset < tables->strings_size) {
    tables->runpath = tables->strings + runpath_offset;
  }
  if (has_rpath && rpath_offset < tables->strings_size) tables->rpath = tables->strings + rpath_offset;
  return true;
}

bool module_defines_symbol(const DynamicTables& tables, const char* name) {
  if (tables.gnu_hash) return gnu_hash_defines(tables, name);
  if (tables.sysv_hash) return sysv_hash_defines(tables, name);
  return false;
}

bool module_contains_address(const dl_phdr_info& module, const void* address) {
  auto value = reinterpret_cast<uintptr_t>(address);
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = module.dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    uintptr_t begin = module.dlpi_addr + segment.p_vaddr;
    if (value >= begin && value < begin + segment.p_memsz) return true;
  }
  return false;
}

PageRange read_only_after_relocation(const dl_phdr_info& module) {
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = module.dlpi_phdr[i];
    if (segment.p_type != PT_GNU_RELRO) continue;
    // The loader protects whole pages only: the start rounded down, the end
    // rounded down too, so a last page the segment only partly covers stays
    // writable (and holds data that must stay writable).
    auto page_size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    uintptr_t begin = module.dlpi_addr + segment.p_vaddr;
    uintptr_t end = begin + segment.p_memsz;
    return {begin & ~(page_size - 1), end & ~(page_size - 1)};
  }
  return {};
}

bool is_loader_or_vdso(const dl_phdr_info& module) {
  uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
  uintptr_t loader = getauxval(AT_BASE);
  if (vdso != 0 && module.dlpi_addr == vdso) return true;
  if (loader != 0 && module.dlpi_addr == loader) return true;
  const char* name = module.dlpi_name ? module.dlpi_name : "";
  const char* base_name = std::strrchr(name, '/');
  base_name = base_name ? base_name + 1 : name;
  return std::strncmp(base_name, "linux-vdso", 10) == 0 ||
         std::strncmp(base_name, "linux-gate", 10) == 0 ||
         std::strncmp(base_name, "ld-linux", 8) == 0 || std::strncmp(base_name, "ld64.so", 7) == 0 ||
         std::strncmp(base_name, "ld-musl", 7) == 0;
}

}  // namespace oomtrace::interpose
