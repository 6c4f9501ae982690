// Parsing of the FAKE_CUDA_* environment variables (see fake_cuda_config.h).
#include "fake_cuda_config.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace fake_cuda {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

void warn_invalid(const char* variable, const char* text) {
  std::fprintf(stderr, "fake_cuda: ignoring malformed %s=\"%s\", using the default\n", variable, text);
}

std::uint64_t unsigned_from_environment(const char* variable, std::uint64_t fallback) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return fallback;
  const auto value = parse_unsigned(text);
  if (!value) {
    warn_invalid(variable, text);
    return fallback;
  }
  return *value;
}

// Splits "a,b,c" into per-device MiB values. A single value applies to every
// device; in a list, devices past the end get `fallback_mib`.
std::vector<std::uint64_t> per_device_mib_from_environment(const char* variable, int device_count,
                                                           std::uint64_t fallback_mib) {
  std::vector<std::uint64_t> values(static_cast<std::size_t>(device_count), fallback_mib);
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return values;

  std::vector<std::uint64_t> listed;
  std::string_view rest(text);
  while (true) {
    const auto comma = rest.find(',');
    const auto value = parse_unsigned(rest.substr(0, comma));
    if (!value) {
      warn_invalid(variable, text);
      return values;
    }
    listed.push_back(*value);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }

  for (std::size_t device = 0; device < values.size(); ++device) {
    if (listed.size() == 1) values[device] = listed[0];
    else if (device < listed.size()) values[device] = listed[device];
  }
  return values;
}

}  // namespace

MachineConfig read_machine_config_from_environment() {
  MachineConfig config;
  auto device_count = unsigned_from_environment("FAKE_CUDA_DEVICES", 1);
  if (device_count > static_cast<std::uint64_t>(kMaxDevices)) {
    std::fprintf(stderr, "fake_cuda: FAKE_CUDA_DEVICES=%" PRIu64 " capped at %d\n", device_count, kMaxDevices);
    device_count = kMaxDevices;
  }
  const int count = static_cast<int>(device_count);

  const auto total = per_device_mib_from_environment("FAKE_CUDA_TOTAL_MIB", count, kDefaultTotalMiB);
  const auto other = per_device_mib_from_environment("FAKE_CUDA_OTHER_MIB", count, 0);
  const auto context = per_device_mib_from_environment("FAKE_CUDA_CONTEXT_MIB", count, 0);
  for (int device = 0; device < count; ++device) {
    const auto index = static_cast<std::size_t>(device);
    config.devices.push_back({total[index] * kMiB, other[index] * kMiB, context[index] * kMiB});
  }

  config.other_pid = static_cast<unsigned>(unsigned_from_environment("FAKE_CUDA_OTHER_PID", kDefaultOtherPid));
  const std::uint64_t chunk_mib = unsigned_from_environment("FAKE_CUDA_POOL_CHUNK_MIB", kGranularity / kMiB);
  config.pool_chunk_bytes = round_up(static_cast<std::size_t>(chunk_mib) * kMiB, kGranularity);
  if (config.pool_chunk_bytes == 0) config.pool_chunk_bytes = kGranularity;
  if (const char* name = std::getenv("FAKE_CUDA_NAME"); name != nullptr && *name != '\0') config.name = name;
  return config;
}

std::string pci_bus_id(int device) {
  char text[32];
  std::snprintf(text, sizeof text, "00000000:%02X:00.0", 0x10 + device);
  return text;
}

int device_from_pci_bus_id(const char* bus_id, int device_count) {
  if (bus_id == nullptr) return -1;
  unsigned domain = 0, bus = 0, slot = 0, function = 0;
  char trailing = 0;
  const int fields = std::sscanf(bus_id, "%x:%x:%x.%x%c", &domain, &bus, &slot, &function, &trailing);
  if (fields != 4 || domain != 0 || slot != 0 || function != 0) return -1;
  const int device = static_cast<int>(bus) - 0x10;
  return device >= 0 && device < device_count ? device : -1;
}

}  // namespace fake_cuda
