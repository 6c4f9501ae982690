// The framework allocator settings the traced process started with, so the
// report never suggests what is already set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/verdicts/report.h"

namespace oomtrace::report {

struct AllocatorSettings {
  // PyTorch: PYTORCH_CUDA_ALLOC_CONF (or PYTORCH_ALLOC_CONF,
  // PYTORCH_HIP_ALLOC_CONF), "key:value,key:value".
  std::string conf_key = "PYTORCH_CUDA_ALLOC_CONF";  // the variable in use
  std::string conf_value;                            // empty when unset
  bool expandable_segments = false;
  bool async_backend = false;  // backend:cudaMallocAsync: no segments to expand
  std::optional<uint64_t> max_split_size_bytes;
  std::optional<double> garbage_collection_threshold;

  // TensorFlow.
  std::optional<std::string> tf_gpu_allocator;  // TF_GPU_ALLOCATOR
  bool tf_allow_growth = false;                 // TF_FORCE_GPU_ALLOW_GROWTH=true

  // JAX.
  std::optional<bool> xla_preallocate;       // XLA_PYTHON_CLIENT_PREALLOCATE
  std::optional<double> xla_mem_fraction;    // XLA_PYTHON_CLIENT_MEM_FRACTION / XLA_CLIENT_MEM_FRACTION
  std::optional<std::string> xla_allocator;  // XLA_PYTHON_CLIENT_ALLOCATOR

  // CuPy: bytes, or a percentage of the device ("50%"), as set.
  std::optional<std::string> cupy_memory_limit;

  std::optional<std::string> cuda_visible_devices;
};

// Reads the recorded environment (SettingEntry key = variable name).
AllocatorSettings read_allocator_settings(const std::vector<SettingEntry>& settings);

// Adds the settings a PyTorch memory snapshot reports in its
// allocator_settings (keys expandable_segments, max_split_size in bytes,
// garbage_collection_threshold, PYTORCH_CUDA_ALLOC_CONF; values as text).
// What the allocator ran with wins over the environment.
void apply_snapshot_allocator_settings(AllocatorSettings& settings, const std::vector<SettingEntry>& snapshot);

// The value to suggest for conf_key: what was set plus the new option.
std::string with_option(const AllocatorSettings& settings, const std::string& option);

// The cap the settings put on a device of device_total bytes: a CuPy pool
// limit or JAX's memory fraction. nullopt when none is set or it cannot be
// sized (a percentage without the device's total).
std::optional<MemoryCap> settings_cap(const AllocatorSettings& settings, std::optional<uint64_t> device_total);

}  // namespace oomtrace::report
