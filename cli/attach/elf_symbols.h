// The offset of a function in a shared library file, read from its dynamic
// symbol table: how the injector finds dlopen in the target's own libc and
// oomtrace_attach_begin in the library, without running anything in the
// target. The address in the target is the module's load address plus it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace oomtrace::cli {

struct ElfSymbolLookup {
  std::optional<uint64_t> value;  // st_value of the defined symbol
  std::string error;              // why the file could not be read
};

// Prefers the default version (name@@VERSION) when several are defined.
ElfSymbolLookup find_dynamic_symbol(const std::string& file, const std::string& name);

// The machine an ELF file was built for (EM_X86_64, EM_AARCH64), 0 if unreadable.
uint16_t elf_machine(const std::string& file);

}  // namespace oomtrace::cli
