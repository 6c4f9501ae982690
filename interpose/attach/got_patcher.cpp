// Everything here runs inside dl_iterate_phdr callbacks: the loader's list
// lock is held, so no module can be unloaded while its slots are read or
// written. The callbacks call nothing that takes the loader's other lock
// (dladdr, dlopen, dlsym), which a thread inside dlopen holds while it runs
// constructors; such a thread may be waiting for mutex_ in the dlopen hook.
#include "interpose/attach/got_patcher.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

#include "interpose/attach/loaded_module.h"

namespace oomtrace::interpose {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kJumpSlot = R_X86_64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_X86_64_GLOB_DAT;
#elif defined(__aarch64__)
constexpr uint32_t kJumpSlot = R_AARCH64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_AARCH64_GLOB_DAT;
#else
#error "liboomtrace: GOT patching is written for x86_64 and aarch64 only"
#endif

// What the loader itself would have written for the relocation had the
// symbol resolved to `replacement`.
void* slot_value(const void* replacement, ElfW(Sxword) addend) {
#if defined(__aarch64__)
  // AArch64 GLOB_DAT and JUMP_SLOT are S + A.
  return const_cast<char*>(static_cast<const char*>(replacement)) + addend;
#else
  // x86-64 GLOB_DAT and JUMP_SLOT are S: the addend is not used.
  (void)addend;
  return const_cast<void*>(replacement);
#endif
}

// A slot inside PT_GNU_RELRO is read-only once the loader finished; it is
// made writable for the one store and read-only again, page by page.
bool write_slot(void** slot, void* value, const PageRange& read_only) {
  auto address = reinterpret_cast<uintptr_t>(slot);
  if (!read_only.contains(address)) {
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    return true;
  }
  auto page_size = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  void* page = reinterpret_cast<void*>(address & ~(page_size - 1));
  if (mprotect(page, page_size, PROT_READ | PROT_WRITE) != 0) return false;
  // Other threads may be calling through this slot right now: a single
  // aligned pointer store, so each call sees the old or the new target.
  __atomic_store_n(slot, value, __ATOMIC_RELEASE);
  mprotect(page, page_size, PROT_READ);
  return true;
}

void* read_slot(void** slot) { return __atomic_load_n(slot, __ATOMIC_ACQUIRE); }

const char* loader_name(const dl_phdr_info& module) {
  return module.dlpi_name ? module.dlpi_name : "";
}

// The main program is the module the loader names "": the report names it
// by its file.
std::string display_name(const dl_phdr_info& module) {
  const char* name = loader_name(module);
  if (name[0] != '\0') return name;
  char path[4096];
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string("(main program)");
}

// The modules of the default namespace, from the loader's debugger
// interface. A module loaded into another namespace (dlmopen) has its own
// copies of libcudart and libc, which our wrappers would not find: such
// modules are left alone, and so is dlmopen itself.
struct NamespaceMember {
  uintptr_t base;
  const char* name;
};

std::vector<NamespaceMember> default_namespace_members() {
  std::vector<NamespaceMember> members;
  for (const link_map* map = _r_debug.r_map; map; map = map->l_next) {
    members.push_back({map->l_addr, map->l_name ? map->l_name : ""});
  }
  return members;
}

bool is_in_default_namespace(const std::vector<NamespaceMember>& members,
                             const dl_phdr_info& module) {
  for (const NamespaceMember& member : members) {
    if (member.base == module.dlpi_addr && std::strcmp(member.name, loader_name(module)) == 0) {
      return true;
    }
  }
  return false;
}

// The module that holds this code (liboomtrace.so, or a test's library).
const void* own_code_address() { return reinterpret_cast<const void*>(&own_code_address); }

}  // namespace

struct GotPatcher::Walk {
  explicit Walk(GotPatcher* owner) : patcher(owner) {}
  GotPatcher* patcher;
  bool first_module = true;
  bool nothing_changed = false;
  bool aborted = false;
  bool have_counters = false;
  unsigned long long adds = 0;
  unsigned long long subs = 0;
  std::vector<NamespaceMember> namespace_members;
  GotPatchSummary summary;
  size_t restored = 0;
};

GotPatcher::GotPatcher(GotPatcherRules rules)
    : replacements_(std::move(rules.replacements)),
      skip_modules_defining_(std::move(rules.skip_modules_defining)) {
  std::sort(replacements_.begin(), replacements_.end(),
            [](const SlotReplacement& a, const SlotReplacement& b) { return a.symbol < b.symbol; });
}

const void* GotPatcher::replacement_for(std::string_view symbol) const {
  auto found = std::lower_bound(
      replacements_.begin(), replacements_.end(), symbol,
      [](const SlotReplacement& entry, std::string_view name) { return entry.symbol < name; });
  if (found == replacements_.end() || found->symbol != symbol) return nullptr;
  return found->replacement;
}

namespace {

// Calls `visit(offset, info, addend)` for every entry of the module's
// relocation tables that can bind a symbol: DT_RELA, DT_REL and DT_JMPREL.
template <typename Visit>
void for_each_relocation(const DynamicTables& tables, Visit visit) {
  if (tables.rela) {
    for (size_t i = 0; i < tables.rela_bytes / sizeof(ElfW(Rela)); ++i) {
      visit(tables.rela[i].r_offset, tables.rela[i].r_info, tables.rela[i].r_addend);
    }
  }
  if (tables.rel) {
    for (size_t i = 0; i < tables.rel_bytes / sizeof(ElfW(Rel)); ++i) {
      visit(tables.rel[i].r_offset, tables.rel[i].r_info, 0);
    }
  }
  if (!tables.plt_relocations) return;
  if (tables.plt_relocations_are_rela) {
    auto* entries = static_cast<const ElfW(Rela)*>(tables.plt_relocations);
    for (size_t i = 0; i < tables.plt_relocation_bytes / sizeof(ElfW(Rela)); ++i) {
      visit(entries[i].r_offset, entries[i].r_info, entries[i].r_addend);
    }
  } else {
    auto* entries = static_cast<const ElfW(Rel)*>(tables.plt_relocations);
    for (size_t i = 0; i < tables.plt_relocation_bytes / sizeof(ElfW(Rel)); ++i) {
      visit(entries[i].r_offset, entries[i].r_info, 0);
    }
  }
}

}  // namespace

int GotPatcher::visit_for_patch(dl_phdr_info* info, size_t size, void* data) {
  // Nothing may unwind through the loader: it would keep its lock held, and
  // every later dlopen in the process would hang. Out of memory ends the
  // walk (a slot written before it is then not restored).
  try {
    return patch_visited_module(info, size, data);
  } catch (...) {
    static_cast<Walk*>(data)->aborted = true;
    return 1;
  }
}

int GotPatcher::patch_visited_module(dl_phdr_info* info, size_t size, void* data) {
  auto* walk = static_cast<Walk*>(data);
  GotPatcher& self = *walk->patcher;
  if (walk->first_module) {
    walk->first_module = false;
    // dlpi_adds/dlpi_subs are the same in every entry; older loaders pass
    // a shorter structure without them.
    if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
      walk->have_counters = true;
      walk->adds = info->dlpi_adds;
      walk->subs = info->dlpi_subs;
      if (self.walked_ && walk->adds == self.adds_seen_ && walk->subs == self.subs_seen_) {
        walk->nothing_changed = true;
        return 1;
      }
    }
    walk->namespace_members = default_namespace_members();
  }

  const char* name = loader_name(*info);
  PatchedModule* known = nullptr;
  for (PatchedModule& module : self.modules_) {
    if (module.base == info->dlpi_addr && module.name == name) {
      known = &module;
      break;
    }
  }
  if (known) {
    known->seen_in_walk = true;
    // Still patched: the usual case. A module whose first slot no longer
    // holds our wrapper was unloaded and loaded again at the same place
    // (between two walks), or the program rewrote that slot: patch again.
    if (known->slots.empty() || read_slot(known->slots.front().slot) == known->slots.front().written) {
      return 0;
    }
  }

  if (is_loader_or_vdso(*info) || module_contains_address(*info, own_code_address())) return 0;
  if (!is_in_default_namespace(walk->namespace_members, *info)) return 0;
  DynamicTables tables;
  if (!read_dynamic_tables(*info, &tables)) return 0;
  if (!self.skip_modules_defining_.empty() &&
      module_defines_symbol(tables, self.skip_modules_defining_.c_str())) {
    return 0;
  }

  // Slots patched before that still hold our wrapper keep their first
  // original; the rest is patched now.
  std::vector<PatchedSlot> slots;
  if (known) {
    for (const PatchedSlot& slot : known->slots) {
      if (read_slot(slot.slot) == slot.written) slots.push_back(slot);
    }
  }
  size_t written_here = 0;
  PageRange read_only = read_only_after_relocation(*info);
  for_each_relocation(tables, [&](ElfW(Addr) offset, ElfW(Xword) relocation, ElfW(Sxword) addend) {
    // Both architectures above are 64-bit ELF.
    uint32_t type = ELF64_R_TYPE(relocation);
    if (type != kJumpSlot && type != kGlobDat) return;
    size_t symbol_index = ELF64_R_SYM(relocation);
    if (symbol_index == STN_UNDEF) return;
    const ElfW(Sym)& symbol = tables.symbols[symbol_index];
    // Only imports: a module's own definitions (protected ones, or those
    // it binds to itself) are its business.
    if (symbol.st_shndx != SHN_UNDEF || symbol.st_name >= tables.strings_size) return;
    const void* replacement = self.replacement_for(tables.strings + symbol.st_name);
    if (!replacement) return;
    void* value = slot_value(replacement, addend);
    auto** slot = reinterpret_cast<void**>(info->dlpi_addr + offset);
    void* current = read_slot(slot);
    // Already ours: patched before, or bound to our export by the loader.
    if (current == value) return;
    if (!write_slot(slot, value, read_only)) return;
    slots.push_back({slot, current, value});
    ++written_here;
  });

  if (known) {
    known->slots = std::move(slots);
  } else {
    self.modules_.push_back({info->dlpi_addr, name, std::move(slots), true});
  }
  if (written_here > 0) {
    walk->summary.modules += 1;
    walk->summary.slots += written_here;
    walk->summary.module_names.push_back(display_name(*info));
  }
  return 0;
}

GotPatchSummary GotPatcher::patch_locked() {
  for (PatchedModule& module : modules_) module.seen_in_walk = false;
  Walk walk(this);
  dl_iterate_phdr(&GotPatcher::visit_for_patch, &walk);
  if (walk.nothing_changed) return {};
  // Modules not reached are not known to be gone; the next walk goes on.
  if (walk.aborted) return std::move(walk.summary);
  // Modules that were unloaded: their memory is gone, so nothing of them
  // may be restored later.
  std::erase_if(modules_, [](const PatchedModule& module) { return !module.seen_in_walk; });
  walked_ = walk.have_counters;
  adds_seen_ = walk.adds;
  subs_seen_ = walk.subs;
  return std::move(walk.summary);
}

GotPatchSummary GotPatcher::patch_new_modules() {
  std::lock_guard<std::mutex> lock(mutex_);
  return patch_locked();
}

GotPatchSummary GotPatcher::patch_new_modules_if_accepting() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!accepting_new_modules_) return {};
  return patch_locked();
}

void GotPatcher::set_accepting_new_modules(bool accepting) {
  std::lock_guard<std::mutex> lock(mutex_);
  accepting_new_modules_ = accepting;
}

int GotPatcher::visit_for_restore(dl_phdr_info* info, size_t, void* data) {
  auto* walk = static_cast<Walk*>(data);
  GotPatcher& self = *walk->patcher;
  const char* name = loader_name(*info);
  for (PatchedModule& module : self.modules_) {
    if (module.base != info->dlpi_addr || module.name != name) continue;
    PageRange read_only = read_only_after_relocation(*info);
    for (const PatchedSlot& slot : module.slots) {
      // A slot the program (or another tool) rewrote since is its own.
      if (read_slot(slot.slot) != slot.written) continue;
      if (write_slot(slot.slot, slot.original, read_only)) ++walk->restored;
    }
    break;
  }
  return 0;
}

size_t GotPatcher::restore_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  Walk walk(this);
  // Only modules still loaded are visited: an unloaded module's slots are
  // not memory of it any more.
  dl_iterate_phdr(&GotPatcher::visit_for_restore, &walk);
  modules_.clear();
  walked_ = false;
  return walk.restored;
}

}  // namespace oomtrace::interpose
