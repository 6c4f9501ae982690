// The command's end of oomtrace_attach_control (attach_control_block.h) in
// a process that has liboomtrace.so loaded: read with process_vm_readv,
// written with process_vm_writev, so detaching stops nothing in the target.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

#include "interpose/attach/attach_control_block.h"

namespace oomtrace::cli {

class AttachChannel {
 public:
  // nullopt when the process has no liboomtrace.so mapped; `error` says
  // why when one is mapped but its block cannot be found.
  static std::optional<AttachChannel> open(pid_t pid, std::string& error);

  bool read(AttachControlBlock& block) const;
  bool request_detach() const;
  const std::string& library_path() const { return library_path_; }

 private:
  AttachChannel(pid_t pid, uint64_t address, std::string library)
      : pid_(pid), address_(address), library_path_(std::move(library)) {}
  pid_t pid_;
  uint64_t address_;
  std::string library_path_;  // as the target sees it
};

}  // namespace oomtrace::cli
