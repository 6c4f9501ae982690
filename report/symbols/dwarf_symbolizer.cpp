#include "report/symbols/dwarf_symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>
#include <map>
#include <tuple>
#include <unordered_map>

#include "report/common/path_text.h"
#include "report/symbols/module_files.h"

namespace oomtrace::report {
namespace {

std::string demangled(const char* name) {
  if (!name) return {};
  int status = -1;
  char* readable = name[0] == '_' && name[1] == 'Z' ? abi::__cxa_demangle(name, nullptr, nullptr, &status) : nullptr;
  if (status != 0 || !readable) return name;
  std::string text = readable;
  std::free(readable);
  return text;
}

// The linkage name says which overload; a C function has only its name.
// Both may sit on the abstract origin of an inlined copy, which
// dwarf_attr_integrate follows.
std::string function_name(Dwarf_Die* scope) {
  Dwarf_Attribute attribute;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (const char* linkage = dwarf_formstring(dwarf_attr_integrate(scope, name, &attribute))) return demangled(linkage);
  }
  return demangled(dwarf_formstring(dwarf_attr_integrate(scope, DW_AT_name, &attribute)));
}

// Line tables may name files relative to the compilation directory (ccache
// and build systems compile from elsewhere): made absolute, so that the
// report names a file one can open.
std::string source_path(const char* file, Dwarf_Die* unit) {
  if (!file) return {};
  if (file[0] == '/') return file;
  Dwarf_Attribute attribute;
  const char* directory = dwarf_formstring(dwarf_attr(unit, DW_AT_comp_dir, &attribute));
  if (!directory || directory[0] != '/') return file;
  return lexically_normal_path(std::string(directory) + "/" + file);
}

struct SourceLine {
  std::string file;
  uint32_t line = 0;
};

SourceLine line_at(Dwfl_Module* module, Dwarf_Addr address, Dwarf_Die* unit) {
  SourceLine found;
  Dwfl_Line* line = dwfl_module_getsrc(module, address);
  int number = 0;
  const char* file = line ? dwfl_lineinfo(line, nullptr, &number, nullptr, nullptr, nullptr) : nullptr;
  if (file) found = {source_path(file, unit), static_cast<uint32_t>(number)};
  return found;
}

// Where an inlined call sits in its caller: DW_AT_call_file indexes the
// compilation unit's file table.
SourceLine call_site(Dwarf_Die* inlined, Dwarf_Die* unit) {
  SourceLine site;
  Dwarf_Attribute attribute;
  Dwarf_Word value = 0;
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attribute), &value) == 0 &&
      dwarf_getsrcfiles(unit, &files, &count) == 0 && value < count) {
    site.file = source_path(dwarf_filesrc(files, value, nullptr, nullptr), unit);
  }
  if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attribute), &value) == 0) {
    site.line = static_cast<uint32_t>(value);
  }
  return site;
}

bool is_function_scope(Dwarf_Die* scope) {
  int tag = dwarf_tag(scope);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

// The innermost function scope of a list from dwarf_getscopes(_die),
// skipping the first `from` entries.
std::optional<Dwarf_Die> first_function(Dwarf_Die* scopes, int count, int from) {
  for (int i = from; i < count; ++i) {
    if (is_function_scope(&scopes[i])) return scopes[i];
  }
  return std::nullopt;
}

// The scope the inlined copy sits in, in the concrete tree: its caller.
// (dwarf_getscopes continues past an inlined scope into its abstract
// definition, which says nothing about the caller.)
std::optional<Dwarf_Die> caller_of(Dwarf_Die* inlined) {
  Dwarf_Die* scopes = nullptr;
  int count = dwarf_getscopes_die(inlined, &scopes);
  std::optional<Dwarf_Die> caller = first_function(scopes, count, 1);  // [0] is the DIE itself
  std::free(scopes);
  return caller;
}

// The function around the address and, when the compiler inlined calls
// there, each inlined call first; each line is where the frame inside it
// stands (the line table for the innermost, the call site for the others).
std::vector<SourceFrame> scope_frames(Dwfl_Module* module, Dwarf_Addr address) {
  std::vector<SourceFrame> frames;
  Dwarf_Addr bias = 0;
  Dwarf_Die* unit = dwfl_module_addrdie(module, address, &bias);
  if (!unit) return frames;
  Dwarf_Die* scopes = nullptr;
  int count = dwarf_getscopes(unit, address - bias, &scopes);
  std::optional<Dwarf_Die> scope = first_function(scopes, count, 0);
  std::free(scopes);
  SourceLine where = line_at(module, address, unit);
  // Bounded: a malformed DWARF tree must not loop.
  for (int depth = 0; scope && depth < 64; ++depth) {
    bool inlined = dwarf_tag(&*scope) == DW_TAG_inlined_subroutine;
    frames.push_back({function_name(&*scope), where.file, where.line, inlined, std::nullopt});
    if (!inlined) break;
    where = call_site(&*scope, unit);
    scope = caller_of(&*scope);
  }
  // Line information without a function around it (assembly): still a line.
  if (frames.empty() && !where.file.empty()) frames.push_back({"", where.file, where.line, false, std::nullopt});
  return frames;
}

// A stripped module: .symtab when kept, else .dynsym (libdwfl's choice).
std::vector<SourceFrame> symbol_frame(Dwfl_Module* module, Dwarf_Addr address) {
  GElf_Off offset = 0;
  GElf_Sym symbol;
  const char* name = dwfl_module_addrinfo(module, address, &offset, &symbol, nullptr, nullptr, nullptr);
  if (!name || !*name) return {};
  // +1: the offset of the return address, as the trace's own frames give it.
  return {{demangled(name), "", 0, false, offset + 1}};
}

// One module's file opened in a Dwfl of its own, reported at address 0:
// lookups translate the process's addresses by the recorded load bias.
class LoadedModule {
 public:
  LoadedModule(const std::string& path, char** debuginfo_path) {
    callbacks_.find_elf = dwfl_build_id_find_elf;
    callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
    callbacks_.section_address = dwfl_offline_section_address;
    callbacks_.debuginfo_path = debuginfo_path;
    dwfl_ = dwfl_begin(&callbacks_);
    if (!dwfl_) return;
    dwfl_report_begin(dwfl_);
    module_ = dwfl_report_elf(dwfl_, path.c_str(), path.c_str(), -1, 0, false);
    dwfl_report_end(dwfl_, nullptr, nullptr);
    if (module_ && !dwfl_module_getelf(module_, &bias_)) module_ = nullptr;
  }
  ~LoadedModule() {
    if (dwfl_) dwfl_end(dwfl_);
  }
  LoadedModule(const LoadedModule&) = delete;
  LoadedModule& operator=(const LoadedModule&) = delete;

  bool usable() const { return module_ != nullptr; }

  const std::vector<SourceFrame>& frames_at(uint64_t file_address) {
    auto cached = frames_.find(file_address);
    if (cached != frames_.end()) return cached->second;
    Dwarf_Addr address = file_address + bias_;
    std::vector<SourceFrame> frames = scope_frames(module_, address);
    if (frames.empty()) frames = symbol_frame(module_, address);
    return frames_.emplace(file_address, std::move(frames)).first->second;
  }

 private:
  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;
  Dwfl_Module* module_ = nullptr;
  GElf_Addr bias_ = 0;
  std::unordered_map<uint64_t, std::vector<SourceFrame>> frames_;
};

// Names of code that is no file on disk: the kernel's vDSO.
bool is_file_module(const std::string& path) { return path.find('/') != std::string::npos; }

class DwarfSymbolizer : public FrameSymbolizer {
 public:
  explicit DwarfSymbolizer(const std::vector<std::string>& debug_dirs) : debug_dirs_(debug_dirs) {
    // libdwfl's search for separate debug files (.gnu_debuglink, build-id):
    // beside the binary, its .debug/, /usr/lib/debug, then the given folders.
    debuginfo_path_text_ = ":.debug:/usr/lib/debug";
    for (const std::string& dir : debug_dirs) debuginfo_path_text_ += ":" + dir;
    debuginfo_path_ = debuginfo_path_text_.data();
  }

  std::vector<SourceFrame> symbolize(const trace::ModuleInfo& module, uint64_t return_address) override {
    LoadedModule* loaded = load(module);
    if (!loaded || return_address <= module.load_bias) return {};
    // - 1: the call instruction, not the one after it, which may already
    // belong to another line or function.
    return loaded->frames_at(return_address - 1 - module.load_bias);
  }

  std::vector<std::string> problems() const override { return problems_; }

 private:
  LoadedModule* load(const trace::ModuleInfo& module) {
    auto key = std::make_tuple(module.path, module.load_bias, module.build_id);
    auto known = modules_.find(key);
    if (known != modules_.end()) return known->second.get();
    std::unique_ptr<LoadedModule>& slot = modules_[key];
    if (!is_file_module(module.path)) return nullptr;
    ModuleFile file = find_module_file(module, debug_dirs_);
    if (file.path.empty()) {
      problems_.push_back(file.problem);
      return nullptr;
    }
    auto loaded = std::make_unique<LoadedModule>(file.path, &debuginfo_path_);
    if (!loaded->usable()) {
      problems_.push_back("cannot read " + file.path + " (" + module.path + ") with libdw: " + dwfl_errmsg(-1));
      return nullptr;
    }
    slot = std::move(loaded);
    return slot.get();
  }

  std::vector<std::string> debug_dirs_;
  std::string debuginfo_path_text_;
  char* debuginfo_path_ = nullptr;
  std::map<std::tuple<std::string, uint64_t, std::string>, std::unique_ptr<LoadedModule>> modules_;
  std::vector<std::string> problems_;
};

}  // namespace

std::unique_ptr<FrameSymbolizer> make_dwarf_symbolizer(const std::vector<std::string>& debug_dirs) {
  return std::make_unique<DwarfSymbolizer>(debug_dirs);
}

}  // namespace oomtrace::report
