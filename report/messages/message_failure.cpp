#include "report/messages/message_failure.h"

#include <algorithm>
#include <numeric>

#include "report/common/format_bytes.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report::messages {
namespace {

// Figures printed to 0.01 GiB are each within 5 MiB of the truth; what
// total - free - held leaves below three times that is rounding, not memory.
constexpr uint64_t kRoundingNoise = 16ull << 20;

uint64_t held_bytes(const ParsedMessage& m) {
  if (m.reserved_bytes) return *m.reserved_bytes;
  return m.allocated_bytes.value_or(0);
}

uint64_t listed_total(const std::vector<ProcessUse>& processes) {
  return std::accumulate(processes.begin(), processes.end(), uint64_t{0},
                         [](uint64_t sum, const ProcessUse& p) { return sum + p.bytes; });
}

// In a container NVML reports host PIDs, so the message may name this
// process as "Process N" and print no "this process has" clause.
std::vector<ProcessUse> others_than_this_process(const ParsedMessage& m, uint64_t held, std::optional<uint64_t>& own,
                                                 std::vector<std::string>& notes) {
  std::vector<ProcessUse> others = m.processes;
  if (own || others.empty() || !m.total_bytes || !m.free_bytes || *m.free_bytes > *m.total_bytes) return others;
  uint64_t in_use = *m.total_bytes - *m.free_bytes;
  if (listed_total(others) + held <= in_use + in_use / 100) return others;
  auto largest = std::max_element(others.begin(), others.end(),
                                  [](const ProcessUse& a, const ProcessUse& b) { return a.bytes < b.bytes; });
  if (largest->bytes < held) return others;
  own = largest->bytes;
  notes.push_back("Process " + std::to_string(largest->pid) + " (" + format_bytes(largest->bytes) +
                  ") is taken to be this process under another PID (as in a container): it holds at least the " +
                  format_bytes(held) + " PyTorch held, and counting both would exceed the " + format_bytes(in_use) +
                  " in use on the device.");
  others.erase(largest);
  return others;
}

void note_inconsistencies(const ParsedMessage& m, uint64_t held, std::vector<std::string>& notes) {
  if (!m.total_bytes) return;
  uint64_t total = *m.total_bytes;
  if (m.free_bytes && *m.free_bytes > total) {
    notes.push_back("The figures are inconsistent: " + format_bytes(*m.free_bytes) + " free is more than the " +
                    format_bytes(total) + " total (unified memory on some platforms counts host memory as free).");
  }
  if (held > total) {
    notes.push_back("The figures are inconsistent: the process held " + format_bytes(held) + " on a device of " +
                    format_bytes(total) + "; the driver may be lending it system memory (Windows' shared GPU "
                    "memory, which is far slower), or the figures are wrong.");
  }
}

}  // namespace

MessageFailure failure_from_message(const ParsedMessage& m) {
  MessageFailure result;
  FailureReport& f = result.failure;
  f.from_message = true;
  f.framework = m.framework;
  f.device = m.device.value_or(0);
  f.requested_bytes = m.requested_bytes.value_or(0);
  f.device_total_bytes = m.total_bytes;
  f.device_free_bytes = m.free_bytes;
  f.process_allocated_bytes = m.allocated_bytes;
  f.process_reserved_bytes = held_bytes(m);
  f.largest_free_block_bytes = m.largest_free_block_bytes;
  f.cap = m.cap;
  f.stack = m.stack;

  std::optional<uint64_t> own = m.this_process_bytes;
  std::vector<ProcessUse> others = others_than_this_process(m, f.process_reserved_bytes, own, result.notes);
  f.nvml_known = own.has_value() || !m.processes.empty();
  for (const ProcessUse& other : others) f.other_processes.push_back({other.pid, other.bytes});

  uint64_t holder = f.process_reserved_bytes;
  if (own && *own >= holder) {
    holder = *own;
  } else if (own) {
    result.notes.push_back("NVML counted " + format_bytes(*own) + " for this process, less than the " +
                           format_bytes(f.process_reserved_bytes) +
                           " its framework held (NVML could not see the process, as in a container); the "
                           "framework's figure is used.");
  }
  if (m.total_bytes && m.free_bytes) {
    uint64_t outside = memory_outside(*m.total_bytes, *m.free_bytes, holder);
    f.other_bytes = outside < kRoundingNoise ? 0 : outside;
  }
  note_inconsistencies(m, f.process_reserved_bytes, result.notes);
  return result;
}

AllocatorSettings settings_from_message(const ParsedMessage& m) {
  AllocatorSettings settings;
  auto backend = m.details.find("backend");
  settings.async_backend = backend != m.details.end() && backend->second == "cudaMallocAsync";
  return settings;
}

}  // namespace oomtrace::report::messages
