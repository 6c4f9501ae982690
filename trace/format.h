// The oomtrace trace file, version 1.
//
//   header   "OOMTRACE" | u16 major | u16 minor | u32 reserved      (16 bytes)
//   records  u8 type | varint payload length | payload              (repeated)
//   trailer  a Trailer record, only when the process ended cleanly
//
// The writer grows the file ahead of itself, so a trace cut short by SIGKILL
// ends in zero bytes: type 0 is never written and marks the end of the data.
// Each record's type byte is stored last, so a record half-written when the
// process died reads as the end, never as garbage. Readers skip record types
// they do not know (minor versions only add types or append payload fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "allocator/event.h"

namespace oomtrace::trace {

inline constexpr char kMagic[8] = {'O', 'O', 'M', 'T', 'R', 'A', 'C', 'E'};
inline constexpr uint16_t kFormatMajor = 1;
// 1.1: FrameworkError and Attachment records; pool figures in Failure.
// 1.2: events of the public pool API (oomtrace_pool_alloc/free).
// 1.3: the Attach record of a process that `oomtrace attach` joined mid-run.
// 1.4: Module records (path, load address, build-id) for offline
//      symbolization; the rank of a distributed job in Process.
inline constexpr uint16_t kFormatMinor = 4;
inline constexpr size_t kHeaderSize = 16;
// No record this writer produces comes near this; a reader treats a larger
// length as corruption instead of allocating whatever the file claims.
inline constexpr uint64_t kMaxPayloadBytes = 1 << 20;

enum class RecordType : uint8_t {
  End = 0,
  Process = 1,
  Device = 2,
  Frame = 3,
  Stack = 4,
  Event = 5,
  Failure = 6,
  Setting = 7,
  Note = 8,
  FrameworkError = 9,
  Attachment = 10,
  Attach = 11,
  Module = 12,
  Trailer = 0x7f,
};

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  std::string host;
  std::string executable;
  std::vector<std::string> argv;
  uint64_t start_unix_ns = 0;
  // A process of a distributed job (torchrun, Slurm, MPI): its rank, its
  // rank on this host and the job's size, from the launcher's environment.
  // Since 1.4; absent in older traces and outside such jobs.
  std::optional<uint32_t> rank;
  std::optional<uint32_t> local_rank;
  std::optional<uint32_t> world_size;
};

struct DeviceInfo {
  int32_t index = 0;
  std::string name;
  uint64_t total_bytes = 0;
  std::string pci_bus_id;
};

// A return address, resolved to a module and symbol when it was first seen.
struct FrameInfo {
  uint32_t id = 0;
  uint64_t address = 0;
  std::string module;
  std::string symbol;  // empty when the module exports nothing near it
  uint64_t offset = 0; // from the symbol, or from the module base
};

// A loaded ELF object that frames fall in, written before the first frame
// inside it, so that `oomtrace report` can find the very file (checked by
// build-id) and read its debug information. Since 1.4.
struct ModuleInfo {
  std::string path;       // as the loader knows it; the executable's from /proc/self/exe
  uint64_t load_bias = 0; // dlpi_addr: runtime address = file address + load_bias
  uint64_t start = 0;     // runtime address range of its PT_LOAD segments
  uint64_t end = 0;
  std::string build_id;   // the NT_GNU_BUILD_ID note's bytes; empty when it has none
};

struct StackInfo {
  uint32_t id = 0;
  std::vector<uint32_t> frames;  // innermost first
};

struct ProcessUsage {
  uint32_t pid = 0;
  uint64_t used_bytes = 0;
};

// What was true at the instant an allocation returned out-of-memory, beyond
// the failed event itself.
struct FailureContext {
  Event event;
  uint64_t device_total_bytes = 0;   // 0: cuMemGetInfo was unavailable
  uint64_t device_free_bytes = 0;
  bool device_info_known = false;
  uint64_t process_reserved_bytes = 0;
  uint32_t process_segments = 0;
  bool nvml_known = false;           // libnvidia-ml answered
  std::vector<ProcessUsage> processes;
  // Stream-ordered failures: the device's current pool at that instant
  // (CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT / USED_MEM_CURRENT). Since 1.1.
  bool pool_known = false;
  uint64_t pool_reserved_bytes = 0;
  uint64_t pool_used_bytes = 0;
};

// An out-of-memory error as the framework raised it (the what() of a
// c10::OutOfMemoryError seen by the __cxa_throw hook, or the message the
// Python bridge caught): it carries figures no CUDA call shows, such as
// PyTorch's per-process limit ("N allowed"). Since 1.1.
struct FrameworkError {
  uint64_t time_ns = 0;
  uint32_t thread = 0;
  std::string framework;  // "pytorch", ...
  std::string message;
};

// A file written next to the trace, e.g. a PyTorch memory snapshot saved at
// an out-of-memory. Since 1.1.
struct Attachment {
  uint64_t time_ns = 0;
  std::string kind;  // "torch_snapshot"
  std::string path;
};

// One device as it stood when `oomtrace attach` joined the process: the
// memory it held then has no recorded origin. Since 1.3.
struct AttachBaseline {
  int32_t device = 0;
  bool memory_known = false;      // cuMemGetInfo answered (the process had a context there)
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  bool process_known = false;     // NVML named this process
  uint64_t process_used_bytes = 0;
};

// A way calls reach the driver, and whether the attached library sees it.
struct AttachPath {
  std::string name;    // "got", "dlopen", "cupti", "resolved_before_attach", "pytorch_bridge"
  bool covered = false;
  std::string detail;  // one sentence
};

// Written first in the trace of an attached process. Since 1.3.
struct AttachInfo {
  uint64_t time_ns = 0;        // since the trace began (the attach)
  uint64_t unix_ns = 0;        // wall clock of the attach
  // The process's pid as `oomtrace attach` saw it: in the host's PID
  // namespace when it ran there, which is how NVML names processes even
  // inside a container. 0 when the same as ProcessInfo::pid.
  uint32_t outer_pid = 0;
  std::vector<AttachBaseline> devices;
  std::vector<AttachPath> paths;
};

struct Setting {
  std::string key;
  std::string value;
};

struct Trailer {
  uint64_t events = 0;
  uint64_t end_time_ns = 0;
  std::string exit_reason;  // "exit", "signal SIGTERM", ...
};

}  // namespace oomtrace::trace
