#include "report/allocator_settings.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace oomtrace::report {
namespace {

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

void apply_option(AllocatorSettings& settings, std::string_view option) {
  size_t colon = option.find(':');
  if (colon == std::string_view::npos) return;
  std::string key = lowercase(trimmed(option.substr(0, colon)));
  std::string value = lowercase(trimmed(option.substr(colon + 1)));
  if (key == "expandable_segments") settings.expandable_segments = value == "true" || value == "1";
  if (key == "backend") settings.async_backend = value == "cudamallocasync";
}

}  // namespace

AllocatorSettings read_allocator_settings(const std::vector<SettingEntry>& settings) {
  AllocatorSettings result;
  bool classic_name_seen = false;
  for (const SettingEntry& setting : settings) {
    bool classic_name = setting.key == "PYTORCH_CUDA_ALLOC_CONF";
    if (!classic_name && setting.key != "PYTORCH_ALLOC_CONF") continue;
    // Options from either name count as set: we only need to know whether
    // a suggestion would repeat one of them.
    std::string_view rest = setting.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      apply_option(result, rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    // Suggestions extend the classic name, which every PyTorch version reads.
    if (classic_name || !classic_name_seen) {
      result.conf_key = setting.key;
      result.conf_value = setting.value;
    }
    classic_name_seen = classic_name_seen || classic_name;
  }
  return result;
}

std::string with_option(const AllocatorSettings& settings, const std::string& option) {
  std::string value = trimmed(settings.conf_value);
  return settings.conf_key + "=" + (value.empty() ? option : value + "," + option);
}

}  // namespace oomtrace::report
