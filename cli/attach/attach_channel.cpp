#include "cli/attach/attach_channel.h"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <sys/uio.h>

#include "cli/attach/elf_symbols.h"
#include "cli/attach/target_process.h"

namespace oomtrace::cli {

std::optional<AttachChannel> AttachChannel::open(pid_t pid, std::string& error) {
  TargetProcess target(pid);
  std::optional<MappedFile> library = target.module("liboomtrace");
  if (!library) return std::nullopt;
  ElfSymbolLookup symbol = find_dynamic_symbol(target.host_view(library->path), kAttachControlSymbol);
  if (!symbol.value) {
    error = library->path + " in process " + std::to_string(pid) +
            " has no attach control block (a library older than `oomtrace attach`?)";
    return std::nullopt;
  }
  AttachChannel channel(pid, library->start + *symbol.value, library->path);
  AttachControlBlock block{};
  if (!channel.read(block)) {
    error = "cannot read the memory of process " + std::to_string(pid) + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (std::memcmp(block.magic, kAttachControlMagic, sizeof block.magic) != 0) {
    error = library->path + " in process " + std::to_string(pid) +
            " is a different build of oomtrace; use the oomtrace that came with it";
    return std::nullopt;
  }
  return channel;
}

bool AttachChannel::read(AttachControlBlock& block) const {
  iovec local{&block, sizeof block};
  iovec remote{reinterpret_cast<void*>(address_), sizeof block};
  return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof block);
}

bool AttachChannel::request_detach() const {
  uint32_t request = static_cast<uint32_t>(AttachRequest::Detach);
  iovec local{&request, sizeof request};
  iovec remote{reinterpret_cast<void*>(address_ + offsetof(AttachControlBlock, request)),
               sizeof request};
  return process_vm_writev(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof request);
}

}  // namespace oomtrace::cli
