// A parsed message as a failure of the report, so that explain and the
// trace's report share one verdict, explanation and suggestions.
#pragma once

#include <string>
#include <vector>

#include "report/verdicts/allocator_settings.h"
#include "report/messages/message.h"
#include "report/verdicts/report.h"

namespace oomtrace::report::messages {

struct MessageFailure {
  FailureReport failure;           // figures set, not yet judged
  std::vector<std::string> notes;  // figures that contradict each other, and how they were read
};

// The figures, mapped as a trace's would be:
//   held (process_reserved) = reserved; in the cached era allocated + cached,
//     in the current one allocated + reserved-but-unallocated; else what the
//     framework says it allocated.
//   outside (other_bytes) = total - free - (NVML's "this process" figure when
//     it is at least what the framework held, else held), at least 0.
//   A process NVML lists that holds at least what the framework held, where
//     counting it as another process would exceed what is in use on the
//     device, is this process seen under another PID (in a container).
MessageFailure failure_from_message(const ParsedMessage& message);

// What the message proves about how the allocator ran (PyTorch's
// cudaMallocAsync backend). The advice a message prints is not a setting.
AllocatorSettings settings_from_message(const ParsedMessage& message);

}  // namespace oomtrace::report::messages
