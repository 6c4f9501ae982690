#include "cli/simulated_gpu.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "cli/self_location.h"
#include "report/messages/sizes.h"

namespace oomtrace::cli {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr int kMaxDevices = 16;  // what the simulated driver supports

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "8GiB", "80G", "512MiB", "1.5GiB": the sizes frameworks print, binary
// units whatever their spelling (report/messages/sizes.h).
std::optional<uint64_t> parse_size(std::string_view text) { return report::messages::parse_size(text); }

void prepend_path_variable(const char* name, const std::string& entry) {
  const char* existing = std::getenv(name);
  std::string value = entry;
  if (existing && *existing) value += std::string(":") + existing;
  ::setenv(name, value.c_str(), 1);
}

}  // namespace

std::optional<SimulatedGpu> parse_simulated_gpu(const std::string& spec, std::string* error) {
  SimulatedGpu gpu;
  std::string_view rest = spec;
  std::string_view others;
  if (size_t comma = rest.find(','); comma != std::string_view::npos) {
    std::string_view option = rest.substr(comma + 1);
    rest = rest.substr(0, comma);
    if (lowercase(option.substr(0, 7)) != "others=") {
      *error = "unknown option '" + std::string(option) + "' (only others=SIZE is known)";
      return std::nullopt;
    }
    others = option.substr(7);
  }
  if (size_t times = lowercase(rest).find('x'); times != std::string_view::npos) {
    std::string count(rest.substr(0, times));
    char* end = nullptr;
    long devices = std::strtol(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || devices < 1 || devices > kMaxDevices) {
      *error = "the device count must be 1 to " + std::to_string(kMaxDevices) + ", not '" + count + "'";
      return std::nullopt;
    }
    gpu.devices = static_cast<int>(devices);
    rest = rest.substr(times + 1);
  }
  std::optional<uint64_t> total = parse_size(rest);
  if (!total || *total < 64 * kMiB) {
    *error = "'" + std::string(rest) + "' is not a device size of at least 64MiB (e.g. 8GiB, 2x80GiB)";
    return std::nullopt;
  }
  gpu.total_bytes = *total / kMiB * kMiB;
  if (!others.empty()) {
    std::optional<uint64_t> held = parse_size(others);
    if (!held || *held >= gpu.total_bytes) {
      *error = "others=" + std::string(others) + " must be a size below the device's " + std::string(rest);
      return std::nullopt;
    }
    gpu.others_bytes = *held / kMiB * kMiB;
  }
  return gpu;
}

std::string locate_simulated_libraries() {
  std::string self = self_executable_path();
  if (self.empty()) return {};
  std::filesystem::path dir = std::filesystem::path(self).parent_path() / "fake_cuda";
  std::error_code error;
  return std::filesystem::exists(dir / "libcuda.so.1", error) ? dir.string() : std::string();
}

void apply_simulated_gpu(const SimulatedGpu& gpu, const std::string& spec, const std::string& library_dir) {
  ::setenv("FAKE_CUDA_DEVICES", std::to_string(gpu.devices).c_str(), 1);
  ::setenv("FAKE_CUDA_TOTAL_MIB", std::to_string(gpu.total_bytes / kMiB).c_str(), 1);
  ::setenv("FAKE_CUDA_OTHER_MIB", std::to_string(gpu.others_bytes / kMiB).c_str(), 1);
  ::setenv("FAKE_CUDA_NAME", "oomtrace simulated GPU", 1);
  ::setenv("OOMTRACE_SIMULATED_GPU", spec.c_str(), 1);
  prepend_path_variable("LD_LIBRARY_PATH", library_dir);
  // liboomtrace.so goes in front later (run_command), so it still comes first.
  const char* existing = std::getenv("LD_PRELOAD");
  // CUPTI too: the wheels reach the real one through their RPATH, which
  // wins over LD_LIBRARY_PATH, and the real one cannot see the simulated
  // driver (`oomtrace attach` subscribes to CUPTI's driver callbacks).
  std::string preload = library_dir + "/libcudart.so.13:" + library_dir + "/libcudart.so.12:" +
                        library_dir + "/libcupti.so.13:" + library_dir + "/libcupti.so.12";
  if (existing && *existing) preload += std::string(":") + existing;
  ::setenv("LD_PRELOAD", preload.c_str(), 1);
}

}  // namespace oomtrace::cli
