#include "interpose/native_stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <cstring>

#include "interpose/stacks/cfi_unwinder.h"
#include "interpose/stacks/stack_bounds.h"
#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

struct UnwindState {
  RawStack* stack;
  bool past_this_library;
};

_Unwind_Reason_Code collect_frame(struct _Unwind_Context* context, void* data) {
  auto* state = static_cast<UnwindState*>(data);
  uintptr_t ip = _Unwind_GetIP(context);
  if (ip == 0) return _URC_END_OF_STACK;
  if (!state->past_this_library) {
    if (is_inside_this_library(reinterpret_cast<void*>(ip))) return _URC_NO_REASON;
    state->past_this_library = true;
  }
  RawStack& stack = *state->stack;
  if (stack.depth >= kMaxStackDepth) return _URC_END_OF_STACK;
  stack.frames[stack.depth++] = ip;
  return _URC_NO_REASON;
}

uint64_t hash_frames(const RawStack& stack) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over the addresses
  for (int i = 0; i < stack.depth; ++i) {
    hash ^= stack.frames[i];
    hash *= 1099511628211ull;
  }
  return hash;
}

bool same_frames(const std::vector<uintptr_t>& known, const RawStack& stack) {
  if (known.size() != static_cast<size_t>(stack.depth)) return false;
  for (int i = 0; i < stack.depth; ++i) {
    if (known[i] != stack.frames[i]) return false;
  }
  return true;
}

trace::FrameInfo describe_frame(uint32_t id, uintptr_t address) {
  trace::FrameInfo frame;
  frame.id = id;
  frame.address = address;
  Dl_info info{};
  // address - 1: a return address may already belong to the next function.
  if (dladdr(reinterpret_cast<void*>(address - 1), &info)) {
    if (info.dli_fname) frame.module = info.dli_fname;
    if (info.dli_sname && info.dli_saddr) {
      frame.symbol = info.dli_sname;
      frame.offset = address - reinterpret_cast<uintptr_t>(info.dli_saddr);
    } else {
      frame.offset = address - reinterpret_cast<uintptr_t>(info.dli_fbase);
    }
  }
  return frame;
}

// The build-id note inside one loaded PT_NOTE segment, read in place: the
// loader keeps notes mapped, so no file is opened.
std::string build_id_in_notes(const char* notes, size_t size) {
  size_t pos = 0;
  while (pos + sizeof(ElfW(Nhdr)) <= size) {
    ElfW(Nhdr) header;
    std::memcpy(&header, notes + pos, sizeof header);
    size_t name_at = pos + sizeof header;
    size_t desc_at = name_at + ((header.n_namesz + 3) & ~size_t{3});
    size_t next = desc_at + ((header.n_descsz + 3) & ~size_t{3});
    if (next > size || next <= pos) break;
    if (header.n_type == NT_GNU_BUILD_ID && header.n_namesz == 4 && std::memcmp(notes + name_at, "GNU", 4) == 0) {
      return std::string(notes + desc_at, header.n_descsz);
    }
    pos = next;
  }
  return {};
}

struct ModuleSearch {
  uintptr_t address;
  trace::ModuleInfo found;
  bool matched = false;
};

// dl_iterate_phdr's callback: nothing here may take the loader's lock again
// (no dlopen, no dladdr), it is already held.
int match_module(struct dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<ModuleSearch*>(data);
  uintptr_t low = UINTPTR_MAX, high = 0;
  bool inside = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    uintptr_t end = begin + segment.p_memsz;
    low = std::min(low, begin);
    high = std::max(high, end);
    inside |= search->address >= begin && search->address < end;
  }
  if (!inside) return 0;
  trace::ModuleInfo& module = search->found;
  module.path = info->dlpi_name ? info->dlpi_name : "";
  module.load_bias = info->dlpi_addr;
  module.start = low;
  module.end = high;
  for (int i = 0; i < info->dlpi_phnum && module.build_id.empty(); ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_NOTE) continue;
    module.build_id = build_id_in_notes(reinterpret_cast<const char*>(info->dlpi_addr + segment.p_vaddr),
                                        segment.p_memsz);
  }
  search->matched = true;
  return 1;
}

// The main program has no name in the loader's list: its file is the one
// the kernel executed.
std::string executable_path() {
  char path[4096];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string();
}

}  // namespace

void capture_native_stack(RawStack& stack) {
  stack.depth = 0;
  UnwindState state{&stack, false};
  _Unwind_Backtrace(&collect_frame, &state);
}

// A frame record is {saved frame pointer, return address} at the frame
// pointer (x86-64 and AArch64 alike); callers' records lie higher up.
// Not instrumented: a chain broken by code without frame pointers may lead
// anywhere in the thread's stack, a sanitizer's redzones included; the
// bounds check is what keeps those reads safe.
__attribute__((noinline)) OOMTRACE_NOT_SANITIZED void capture_frame_pointer_stack(RawStack& stack) {
  stack.depth = 0;
  stacks::StackBounds bounds = stacks::this_thread_stack();
  auto frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  bool past_this_library = false;
  while (stack.depth < kMaxStackDepth) {
    if (frame < bounds.low || frame > bounds.high - 2 * sizeof(uintptr_t) || frame % sizeof(uintptr_t) != 0) {
      break;
    }
    const auto* record = reinterpret_cast<const uintptr_t*>(frame);
    uintptr_t next = record[0];
    uintptr_t return_address = record[1];
    if (return_address == 0) break;
    if (past_this_library || !is_inside_this_library(reinterpret_cast<void*>(return_address))) {
      past_this_library = true;
      stack.frames[stack.depth++] = return_address;
    }
    if (next <= frame) break;
    frame = next;
  }
}

void capture_cfi_stack(RawStack& stack) {
  stack.depth = stacks::cfi_backtrace(stack.frames, kMaxStackDepth, &is_inside_this_library);
}

uint32_t StackInterner::intern_frame(uintptr_t address, trace::TraceWriter& writer) {
  auto found = frame_ids_.find(address);
  if (found != frame_ids_.end()) return found->second;
  uint32_t id = static_cast<uint32_t>(frame_ids_.size() + 1);
  frame_ids_.emplace(address, id);
  note_module(address, writer);
  writer.write_frame(describe_frame(id, address));
  return id;
}

void StackInterner::note_module(uintptr_t address, trace::TraceWriter& writer) {
  // address - 1: a return address just past the end of a module's code.
  uintptr_t inside = address - 1;
  for (const ModuleRange& range : modules_) {
    if (inside >= range.start && inside < range.end) return;
  }
  ModuleSearch search{inside, {}, false};
  dl_iterate_phdr(&match_module, &search);
  if (!search.matched) return;  // code outside every loaded object (JIT)
  if (search.found.path.empty()) search.found.path = executable_path();
  modules_.push_back({static_cast<uintptr_t>(search.found.start), static_cast<uintptr_t>(search.found.end)});
  writer.write_module(search.found);
}

uint32_t StackInterner::intern(const RawStack& stack, trace::TraceWriter& writer) {
  if (stack.depth == 0) return 0;
  uint64_t hash = hash_frames(stack);
  auto& candidates = stacks_by_hash_[hash];
  for (uint32_t id : candidates) {
    if (same_frames(stacks_[id - 1], stack)) return id;
  }
  trace::StackInfo info;
  info.id = static_cast<uint32_t>(stacks_.size() + 1);
  for (int i = 0; i < stack.depth; ++i) info.frames.push_back(intern_frame(stack.frames[i], writer));
  stacks_.emplace_back(stack.frames, stack.frames + stack.depth);
  candidates.push_back(info.id);
  writer.write_stack(info);
  return info.id;
}

void StackInterner::clear() {
  stacks_by_hash_.clear();
  stacks_.clear();
  frame_ids_.clear();
  modules_.clear();
}

}  // namespace oomtrace::interpose
