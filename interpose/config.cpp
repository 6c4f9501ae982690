#include "interpose/config.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <optional>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace oomtrace::interpose {
namespace {

// The spellings of on and off every flag accepts; nullopt for anything else.
std::optional<bool> flag_value(std::string_view text) {
  if (text == "1" || text == "true" || text == "on" || text == "yes") return true;
  if (text == "0" || text == "false" || text == "off" || text == "no") return false;
  return std::nullopt;
}

bool parse_flag(const char* name, bool fallback, std::vector<std::string>& problems) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  if (std::optional<bool> flag = flag_value(value)) return *flag;
  problems.push_back(std::string(name) + "=" + value + " is not 0 or 1; using " +
                     (fallback ? "1" : "0"));
  return fallback;
}

StackMode parse_stack_mode(std::vector<std::string>& problems) {
  const char* value = std::getenv("OOMTRACE_STACKS");
  // The cached CFI unwinder by default: libgcc's stacks (each stack it
  // cannot walk cheaply is handed to libgcc whole) at a tenth of the cost
  // (docs/overhead-breakdown.md). `dwarf` keeps libgcc's for every stack.
  if (!value || !*value) return StackMode::CachedCfi;
  std::string_view text(value);
  if (text == "fp") return StackMode::FramePointers;
  if (text == "cfi") return StackMode::CachedCfi;
  if (text == "dwarf") return StackMode::Unwinder;
  if (std::optional<bool> flag = flag_value(text)) return *flag ? StackMode::CachedCfi : StackMode::Off;
  problems.push_back(std::string("OOMTRACE_STACKS=") + value + " is not 0, 1, cfi, dwarf or fp; using 1");
  return StackMode::CachedCfi;
}

// The TSC where the kernel keeps its own clock on it, unless told not to.
bool parse_tsc_clock(std::vector<std::string>& problems) {
  const char* value = std::getenv("OOMTRACE_CLOCK");
  if (!value || !*value) return true;
  std::string_view text(value);
  if (text == "tsc" || text == "auto") return true;
  if (text == "monotonic") return false;
  problems.push_back(std::string("OOMTRACE_CLOCK=") + value + " is not auto, tsc or monotonic; using auto");
  return true;
}

std::string directory_of_this_library() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&directory_of_this_library), &info) || !info.dli_fname) {
    return {};
  }
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  // A bare name would mean the current folder: never run a program from it.
  return slash == std::string::npos ? std::string{} : path.substr(0, slash);
}

std::string find_cli(std::vector<std::string>& problems) {
  if (const char* explicit_path = std::getenv("OOMTRACE_CLI"); explicit_path && *explicit_path) {
    if (::access(explicit_path, X_OK) == 0) return explicit_path;
    problems.push_back(std::string("OOMTRACE_CLI=") + explicit_path + " is not an executable");
  }
  std::string folder = directory_of_this_library();
  if (folder.empty()) return {};
  std::string beside = folder + "/oomtrace";
  return ::access(beside.c_str(), X_OK) == 0 ? beside : std::string{};
}

}  // namespace

Config read_config() {
  Config config;
  if (const char* dir = std::getenv("OOMTRACE_DIR"); dir && *dir) {
    struct stat info{};
    if (::stat(dir, &info) == 0 && S_ISDIR(info.st_mode)) {
      config.output_dir = dir;
    } else {
      config.problems.push_back(std::string("OOMTRACE_DIR=") + dir +
                                " is not an existing folder; writing to the current folder");
    }
  }
  config.stacks = parse_stack_mode(config.problems);
  config.tsc_clock = parse_tsc_clock(config.problems);
  config.quiet = parse_flag("OOMTRACE_QUIET", false, config.problems);
  // Read by the exec hooks from the new program's environment (no config
  // there: they may run in a vforked child); checked here to warn once.
  parse_flag("OOMTRACE_FOLLOW_EXEC", false, config.problems);
  config.cli_path = find_cli(config.problems);
  return config;
}

const std::vector<const char*>& allocator_setting_names() {
  static const std::vector<const char*> names = {
      "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF",       "CUDA_VISIBLE_DEVICES",
      "TF_GPU_ALLOCATOR",        "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_PYTHON_CLIENT_PREALLOCATE",
      "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR",
      "CUPY_GPU_MEMORY_LIMIT",   "CUDA_MODULE_LOADING",
      // Set by `oomtrace run --simulate-gpu`: the report must say no real
      // device was used.
      "OOMTRACE_SIMULATED_GPU",
  };
  return names;
}

}  // namespace oomtrace::interpose
