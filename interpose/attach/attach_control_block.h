// The one piece of memory `oomtrace attach`/`detach` and an attached
// liboomtrace.so share. The library exports it as oomtrace_attach_control;
// the command finds it from the library's load address and the symbol's
// offset in the file, and reads or writes it with process_vm_readv/writev.
// No socket, no file and no signal: detaching needs no code run in the
// target, and a target that never gets detached carries no channel open.
//
// Plain C layout, fixed sizes: both sides may be different builds, so the
// magic carries a layout version.
#pragma once

#include <cstdint>

namespace oomtrace {

inline constexpr char kAttachControlMagic[8] = {'O', 'O', 'M', 'A', 'T', 'T', '0', '1'};
inline constexpr const char* kAttachControlSymbol = "oomtrace_attach_control";
inline constexpr const char* kAttachBeginSymbol = "oomtrace_attach_begin";

enum class AttachState : uint32_t {
  Loaded = 0,     // in the process, not attached (never, or detached and done)
  Starting = 1,   // the library's thread is taking the baseline and patching
  Attached = 2,   // recording
  Detaching = 3,  // the thread is restoring what it changed and writing the report
  Detached = 4,   // report written; a new attach may start
  Failed = 5,     // the attach did not take; message says why
};

enum class AttachRequest : uint32_t {
  None = 0,
  Detach = 1,
};

struct AttachControlBlock {
  char magic[8];
  // Written by the library only.
  uint32_t state;
  // Counts attaches, so the command can tell this attach's answer from the last.
  uint32_t generation;
  // Written by the command only; the library's thread polls it.
  uint32_t request;
  uint32_t reserved;
  // The trace being written (or the last one), as the target sees it.
  char trace_path[4096];
  // One line: the paths covered after an attach, or why it failed.
  char message[2048];
};

}  // namespace oomtrace
