// The recording `oomtrace whatif` replays, read from a PyTorch snapshot's
// device trace or from an oomtrace trace, with what the input says about
// the settings the run used and the memory it could have had.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocator/caching_allocator/recording.h"
#include "report/snapshot/torch_snapshot.h"
#include "trace/reader.h"

namespace oomtrace::report {

// A request the run saw fail, and what CUDA said was free then.
struct RecordedOom {
  size_t event = 0;  // position in Recording::events
  std::optional<uint64_t> device_free_bytes;
};

struct WhatIfInput {
  std::string kind;  // "pytorch-snapshot" or "oomtrace-trace"
  int device = 0;
  caching::Recording recording;
  std::string settings_origin;  // where the recorded settings come from, in words
  std::optional<uint64_t> device_total_bytes;
  // Memory outside the process (other processes, the CUDA context) at the
  // run's last failure, when the input measured it.
  std::optional<uint64_t> others_bytes;
  std::vector<RecordedOom> ooms;
  std::vector<std::string> notes;
};

struct WhatIfInputResult {
  std::optional<WhatIfInput> input;
  std::string error;  // one line when input is empty
};

// `device`: the one to replay; default the device with the most events.
WhatIfInputResult whatif_input_from_snapshot(const TorchSnapshot& snapshot, std::optional<int> device);
WhatIfInputResult whatif_input_from_trace(const trace::Trace& trace, std::optional<int> device);

// The settings a snapshot's allocator_settings record (nullopt when it has
// none; error set when they cannot be read).
std::optional<caching::AllocatorConfig> snapshot_allocator_config(const std::vector<TorchSetting>& settings,
                                                                  std::string& error);

}  // namespace oomtrace::report
