#include "report/verdicts/allocator_settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "allocator/decimal_from_chars.h"

namespace oomtrace::report {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::string trimmed(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

bool is_true(std::string_view value) {
  std::string lower = lowercase(trimmed(value));
  return lower == "true" || lower == "1" || lower == "yes";
}

std::optional<double> number(std::string_view text) {
  std::string clean = trimmed(text);
  double value = 0;
  auto [end, error] = decimal_from_chars(clean.data(), clean.data() + clean.size(), value);
  if (error != std::errc() || end != clean.data() + clean.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

void apply_conf_option(AllocatorSettings& settings, std::string_view option) {
  size_t colon = option.find(':');
  if (colon == std::string_view::npos) return;
  std::string key = lowercase(trimmed(option.substr(0, colon)));
  std::string value = lowercase(trimmed(option.substr(colon + 1)));
  if (key == "expandable_segments") settings.expandable_segments = is_true(value);
  if (key == "backend") settings.async_backend = value == "cudamallocasync";
  if (key == "max_split_size_mb") {
    if (auto mb = number(value); mb && *mb >= 0) settings.max_split_size_bytes = static_cast<uint64_t>(*mb) * kMiB;
  }
  if (key == "garbage_collection_threshold") {
    if (auto threshold = number(value); threshold && *threshold > 0) settings.garbage_collection_threshold = threshold;
  }
}

void apply_conf(AllocatorSettings& settings, std::string_view conf) {
  while (!conf.empty()) {
    size_t comma = conf.find(',');
    apply_conf_option(settings, conf.substr(0, comma));
    conf = comma == std::string_view::npos ? std::string_view{} : conf.substr(comma + 1);
  }
}

bool is_pytorch_conf(const std::string& key) {
  return key == "PYTORCH_CUDA_ALLOC_CONF" || key == "PYTORCH_ALLOC_CONF" || key == "PYTORCH_HIP_ALLOC_CONF";
}

void apply_environment(AllocatorSettings& settings, const SettingEntry& setting) {
  const std::string& key = setting.key;
  const std::string& value = setting.value;
  if (key == "TF_GPU_ALLOCATOR") settings.tf_gpu_allocator = trimmed(value);
  if (key == "TF_FORCE_GPU_ALLOW_GROWTH") settings.tf_allow_growth = is_true(value);
  if (key == "XLA_PYTHON_CLIENT_PREALLOCATE") settings.xla_preallocate = is_true(value);
  if (key == "XLA_PYTHON_CLIENT_MEM_FRACTION" || key == "XLA_CLIENT_MEM_FRACTION") {
    auto fraction = number(value);
    if (fraction && *fraction > 0 && *fraction <= 1) settings.xla_mem_fraction = fraction;
  }
  if (key == "XLA_PYTHON_CLIENT_ALLOCATOR") settings.xla_allocator = lowercase(trimmed(value));
  if (key == "CUPY_GPU_MEMORY_LIMIT") settings.cupy_memory_limit = trimmed(value);
  if (key == "CUDA_VISIBLE_DEVICES") settings.cuda_visible_devices = value;
}

std::optional<uint64_t> fraction_of(double fraction, std::optional<uint64_t> total) {
  if (!total || fraction <= 0 || fraction > 1) return std::nullopt;
  return static_cast<uint64_t>(fraction * static_cast<double>(*total));
}

// CUPY_GPU_MEMORY_LIMIT: a byte count, or "N%" of the device.
std::optional<uint64_t> cupy_limit_bytes(const std::string& limit, std::optional<uint64_t> total) {
  if (!limit.empty() && limit.back() == '%') {
    auto percent = number(std::string_view(limit).substr(0, limit.size() - 1));
    return percent ? fraction_of(*percent / 100, total) : std::nullopt;
  }
  auto bytes = number(limit);
  if (!bytes || *bytes <= 0) return std::nullopt;
  return static_cast<uint64_t>(*bytes);
}

}  // namespace

AllocatorSettings read_allocator_settings(const std::vector<SettingEntry>& settings) {
  AllocatorSettings result;
  bool classic_name_seen = false;
  for (const SettingEntry& setting : settings) {
    apply_environment(result, setting);
    if (!is_pytorch_conf(setting.key)) continue;
    // Options from any of the names count as set: we only need to know
    // whether a suggestion would repeat one of them.
    apply_conf(result, setting.value);
    // Suggestions extend the classic name, which every PyTorch version reads.
    bool classic_name = setting.key == "PYTORCH_CUDA_ALLOC_CONF";
    if (classic_name || !classic_name_seen) {
      result.conf_key = setting.key;
      result.conf_value = setting.value;
    }
    classic_name_seen = classic_name_seen || classic_name;
  }
  return result;
}

void apply_snapshot_allocator_settings(AllocatorSettings& settings, const std::vector<SettingEntry>& snapshot) {
  for (const SettingEntry& entry : snapshot) {
    if (entry.key == "expandable_segments") settings.expandable_segments = is_true(entry.value);
    if (entry.key == "PYTORCH_CUDA_ALLOC_CONF" || entry.key == "PYTORCH_ALLOC_CONF") apply_conf(settings, entry.value);
    // The snapshot says "unset" with the largest size_t (or -1) and 0.
    if (entry.key == "max_split_size") {
      auto bytes = number(entry.value);
      if (bytes && *bytes > 0 && *bytes < 1e18) settings.max_split_size_bytes = static_cast<uint64_t>(*bytes);
    }
    if (entry.key == "garbage_collection_threshold") {
      auto threshold = number(entry.value);
      if (threshold && *threshold > 0) settings.garbage_collection_threshold = threshold;
    }
  }
}

std::string with_option(const AllocatorSettings& settings, const std::string& option) {
  std::string value = trimmed(settings.conf_value);
  return settings.conf_key + "=" + (value.empty() ? option : value + "," + option);
}

std::optional<MemoryCap> settings_cap(const AllocatorSettings& settings, std::optional<uint64_t> device_total) {
  if (settings.cupy_memory_limit) {
    if (auto bytes = cupy_limit_bytes(*settings.cupy_memory_limit, device_total)) {
      return MemoryCap{CapKind::CuPyPoolLimit, *bytes, false};
    }
  }
  // The platform allocator takes what it is asked for, with no share.
  if (settings.xla_mem_fraction && settings.xla_allocator != "platform") {
    if (auto bytes = fraction_of(*settings.xla_mem_fraction, device_total)) {
      return MemoryCap{CapKind::XlaMemoryFraction, *bytes, false};
    }
  }
  return std::nullopt;
}

}  // namespace oomtrace::report
