// The framework allocator settings the traced process started with, so the
// report never suggests what is already set.
#pragma once

#include <string>
#include <vector>

#include "report/report.h"

namespace oomtrace::report {

struct AllocatorSettings {
  std::string conf_key = "PYTORCH_CUDA_ALLOC_CONF";  // the variable in use
  std::string conf_value;                            // empty when unset
  bool expandable_segments = false;
  bool async_backend = false;  // backend:cudaMallocAsync: no segments to expand
};

// Reads PYTORCH_CUDA_ALLOC_CONF, or its newer name PYTORCH_ALLOC_CONF, whose
// value is "key:value,key:value".
AllocatorSettings read_allocator_settings(const std::vector<SettingEntry>& settings);

// The value to suggest for conf_key: what was set plus the new option.
std::string with_option(const AllocatorSettings& settings, const std::string& option);

}  // namespace oomtrace::report
