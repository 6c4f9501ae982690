#include "cli/attach/elf_symbols.h"

#include <cstring>
#include <elf.h>
#include <fstream>
#include <iterator>
#include <vector>

namespace oomtrace::cli {
namespace {

std::optional<std::vector<char>> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <typename T>
bool read_at(const std::vector<char>& bytes, uint64_t offset, T& out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + offset, sizeof(T));
  return true;
}

bool section(const std::vector<char>& bytes, const Elf64_Ehdr& header, unsigned index,
             Elf64_Shdr& out) {
  if (index >= header.e_shnum) return false;
  return read_at(bytes, header.e_shoff + uint64_t{index} * header.e_shentsize, out);
}

bool is_elf64(const std::vector<char>& bytes, Elf64_Ehdr& header) {
  return read_at(bytes, 0, header) && std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
         header.e_ident[EI_CLASS] == ELFCLASS64 && header.e_shentsize == sizeof(Elf64_Shdr);
}

}  // namespace

ElfSymbolLookup find_dynamic_symbol(const std::string& file, const std::string& name) {
  ElfSymbolLookup result;
  auto bytes = read_whole(file);
  Elf64_Ehdr header{};
  if (!bytes) {
    result.error = "cannot read " + file;
    return result;
  }
  if (!is_elf64(*bytes, header)) {
    result.error = file + " is not a 64-bit ELF file";
    return result;
  }
  Elf64_Shdr symbols{}, strings{}, versions{};
  bool have_symbols = false, have_versions = false;
  for (unsigned i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr candidate{};
    if (!section(*bytes, header, i, candidate)) break;
    if (candidate.sh_type == SHT_DYNSYM) {
      symbols = candidate;
      have_symbols = section(*bytes, header, candidate.sh_link, strings);
    } else if (candidate.sh_type == SHT_GNU_versym) {
      versions = candidate;
      have_versions = true;
    }
  }
  if (!have_symbols || symbols.sh_entsize != sizeof(Elf64_Sym)) {
    result.error = file + " has no dynamic symbol table";
    return result;
  }
  uint64_t count = symbols.sh_size / sizeof(Elf64_Sym);
  for (uint64_t i = 0; i < count; ++i) {
    Elf64_Sym symbol{};
    if (!read_at(*bytes, symbols.sh_offset + i * sizeof(Elf64_Sym), symbol)) break;
    if (symbol.st_shndx == SHN_UNDEF || symbol.st_value == 0) continue;
    uint64_t name_at = strings.sh_offset + symbol.st_name;
    if (name_at >= bytes->size()) continue;
    const char* text = bytes->data() + name_at;
    size_t room = bytes->size() - name_at;
    if (strnlen(text, room) == room || name != text) continue;
    uint16_t version = 0;
    bool hidden_version = have_versions &&
                          read_at(*bytes, versions.sh_offset + i * sizeof(uint16_t), version) &&
                          (version & 0x8000) != 0;
    // A hidden version is an old compatibility symbol; keep looking for the
    // default one, but use it if nothing better exists.
    if (!result.value || !hidden_version) result.value = symbol.st_value;
    if (!hidden_version) break;
  }
  if (!result.value) result.error = name + " is not defined in " + file;
  return result;
}

uint16_t elf_machine(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header)) return 0;
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) return 0;
  return header.e_machine;
}

}  // namespace oomtrace::cli
