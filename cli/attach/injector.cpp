#include "cli/attach/injector.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <optional>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <vector>

#include "cli/attach/elf_symbols.h"
#include "cli/attach/machine_registers.h"
#include "cli/attach/remote_memory.h"
#include "cli/attach/target_process.h"
#include "cli/attach/traced_threads.h"
#include "interpose/attach/attach_control_block.h"

namespace oomtrace::cli {
namespace {

// The injected calls return here: nothing is mapped at 0, so the return
// faults, and the fault (SIGSEGV at this address) says the call ended.
constexpr uint64_t kReturnAddress = 0;
// How long the borrowed thread may spend in dlopen. It runs the library's
// constructors, which are quick; a call past this is stuck, and the
// injector leaves it rather than abandon the loader half-way.
constexpr int kCallTimeoutMs = 60000;
// How long the breakpoints at malloc/free wait for a thread to arrive.
constexpr int kSafePointTimeoutMs = 5000;
constexpr uint64_t kScratchBytes = 64 * 1024;
// glibc before 2.34: __libc_dlopen_mode wants this bit to act as dlopen.
constexpr uint64_t kLibcDlopenFlag = 0x80000000u;

// Blocking system calls a thread waits in without holding any lock of the
// C library or the loader. Futex is not among them: a thread waiting on a
// lock may be inside malloc or dlopen.
bool is_sleeping_call(long number) {
  static const long calls[] = {
#ifdef SYS_nanosleep
      SYS_nanosleep,
#endif
#ifdef SYS_poll
      SYS_poll,
#endif
#ifdef SYS_select
      SYS_select,
#endif
#ifdef SYS_epoll_wait
      SYS_epoll_wait,
#endif
#ifdef SYS_pause
      SYS_pause,
#endif
      SYS_clock_nanosleep, SYS_ppoll, SYS_pselect6, SYS_epoll_pwait, SYS_read, SYS_wait4,
      SYS_waitid, SYS_rt_sigtimedwait, SYS_rt_sigsuspend, SYS_accept4, SYS_recvfrom, SYS_recvmsg,
#ifdef SYS_accept
      SYS_accept,
#endif
  };
  for (long call : calls) {
    if (call == number) return true;
  }
  return false;
}

struct LibcFunctions {
  uint64_t dlopen = 0;
  bool dlopen_is_private = false;  // __libc_dlopen_mode
  uint64_t dlerror = 0;            // 0 when libc has none (before 2.34)
  uint64_t mmap = 0;
  uint64_t munmap = 0;
  uint64_t malloc = 0;
  uint64_t free = 0;
};

std::optional<MappedFile> find_libc(const TargetProcess& target) {
  if (auto libc = target.module("libc.so.6")) return libc;
  return target.module("libc-2.");  // older glibc names its file by version
}

bool resolve_libc(const TargetProcess& target, LibcFunctions& out, std::string& error) {
  std::optional<MappedFile> libc = find_libc(target);
  if (!libc) {
    error = "process " + std::to_string(target.pid()) + " has no glibc (libc.so.6) mapped";
    return false;
  }
  std::string file = target.host_view(libc->path);
  auto address_of = [&](const char* name) -> uint64_t {
    ElfSymbolLookup found = find_dynamic_symbol(file, name);
    return found.value ? libc->start + *found.value : 0;
  };
  out.dlopen = address_of("dlopen");
  if (!out.dlopen) {
    out.dlopen = address_of("__libc_dlopen_mode");
    out.dlopen_is_private = out.dlopen != 0;
  }
  out.dlerror = out.dlopen_is_private ? 0 : address_of("dlerror");
  out.mmap = address_of("mmap");
  out.munmap = address_of("munmap");
  out.malloc = address_of("malloc");
  out.free = address_of("free");
  if (!out.dlopen || !out.mmap || !out.munmap) {
    error = "cannot find dlopen and mmap in " + libc->path + " of process " +
            std::to_string(target.pid());
    return false;
  }
  return true;
}

class Injection {
 public:
  Injection(const InjectionRequest& request, TracedThreads& threads, RemoteMemory& memory,
            const LibcFunctions& libc)
      : request_(request), threads_(threads), memory_(memory), libc_(libc) {}

  // Finds a thread at a safe point and leaves it stopped, the others running.
  bool borrow_thread(std::string& error);
  bool load_and_begin(InjectionResult& result);
  // The borrowed thread's registers back as they were.
  bool give_back() { return borrowed_ == 0 || restore_thread(borrowed_, saved_); }

 private:
  struct Breakpoint {
    uint64_t address = 0;
    uint32_t original = 0;
  };
  std::optional<pid_t> thread_in_sleeping_call();
  bool plant(Breakpoint& breakpoint);
  void remove(const Breakpoint& breakpoint);
  bool is_ours(uint64_t stop_pc) const;
  std::optional<uint64_t> call(uint64_t function, std::initializer_list<uint64_t> arguments,
                               std::string& error);
  bool begin(InjectionResult& result, uint64_t options_at, std::string& error);

  const InjectionRequest& request_;
  TracedThreads& threads_;
  RemoteMemory& memory_;
  const LibcFunctions& libc_;
  std::vector<Breakpoint> breakpoints_;
  pid_t borrowed_ = 0;
  SavedThread saved_;
};

std::optional<pid_t> Injection::thread_in_sleeping_call() {
  std::vector<pid_t> candidates = threads_.thread_ids();
  // The main thread first: it is the one a user expects to see touched.
  std::stable_partition(candidates.begin(), candidates.end(),
                        [&](pid_t tid) { return tid == request_.pid; });
  for (pid_t tid : candidates) {
    SavedThread saved;
    if (!threads_.is_stopped(tid) || !save_thread(tid, saved)) continue;
    if (saved.system_call >= 0 && is_sleeping_call(saved.system_call)) {
      saved_ = saved;
      return tid;
    }
  }
  return std::nullopt;
}

bool Injection::plant(Breakpoint& breakpoint) {
  if (!memory_.read(breakpoint.address, &breakpoint.original, breakpoint_size())) return false;
  uint32_t instruction = breakpoint_instruction();
  return memory_.write(breakpoint.address, &instruction, breakpoint_size());
}

void Injection::remove(const Breakpoint& breakpoint) {
  memory_.write(breakpoint.address, &breakpoint.original, breakpoint_size());
}

bool Injection::is_ours(uint64_t stop_pc) const {
  uint64_t address = breakpoint_address_from_stop(stop_pc);
  for (const Breakpoint& breakpoint : breakpoints_) {
    if (breakpoint.address == address) return true;
  }
  return false;
}

bool Injection::borrow_thread(std::string& error) {
  if (std::optional<pid_t> sleeping = thread_in_sleeping_call()) {
    borrowed_ = *sleeping;
    threads_.resume_all_except(borrowed_);
    return true;
  }
  // No thread is asleep: wait for one at the entry of malloc or free, where
  // it holds no allocator lock.
  for (uint64_t address : {libc_.malloc, libc_.free}) {
    Breakpoint breakpoint{address, 0};
    if (address && plant(breakpoint)) breakpoints_.push_back(breakpoint);
  }
  threads_.resume_all_except(0);
  std::optional<ThreadStop> hit;
  while ((hit = threads_.wait_for_trap(kSafePointTimeoutMs))) {
    MachineRegisters registers{};
    if (read_registers(hit->tid, registers) && is_ours(program_counter(registers))) break;
    threads_.run_until_stop(hit->tid, 0);  // someone else's trap: delivered
    hit.reset();
  }
  std::vector<ThreadStop> others;
  threads_.stop_all(&others);
  for (const Breakpoint& breakpoint : breakpoints_) remove(breakpoint);
  // Threads that reached a breakpoint too go back to its instruction, now
  // restored, and never see the trap.
  std::vector<pid_t> trapped;
  if (hit) trapped.push_back(hit->tid);
  for (const ThreadStop& stop : others) {
    if (stop.signal == SIGTRAP) trapped.push_back(stop.tid);
  }
  for (pid_t tid : trapped) {
    MachineRegisters registers{};
    if (!read_registers(tid, registers) || !is_ours(program_counter(registers))) continue;
    set_program_counter(registers, breakpoint_address_from_stop(program_counter(registers)));
    write_registers(tid, registers);
    threads_.set_pending_signal(tid, 0);
  }
  breakpoints_.clear();
  if (hit && save_thread(hit->tid, saved_)) {
    borrowed_ = hit->tid;
    threads_.resume_all_except(borrowed_);
    return true;
  }
  if (std::optional<pid_t> sleeping = thread_in_sleeping_call()) {
    borrowed_ = *sleeping;
    threads_.resume_all_except(borrowed_);
    return true;
  }
  error = "no thread of process " + std::to_string(request_.pid) +
          " called malloc or free or slept in a system call within " +
          std::to_string(kSafePointTimeoutMs / 1000) +
          " s, so none could be borrowed safely; try again while it is working";
  return false;
}

std::optional<uint64_t> Injection::call(uint64_t function, std::initializer_list<uint64_t> arguments,
                                        std::string& error) {
  CallFrame frame = prepare_call(borrowed_, saved_.registers, function, arguments, kReturnAddress);
  uint64_t return_address = kReturnAddress;
  if (frame.return_slot && !memory_.write(frame.return_slot, &return_address, sizeof return_address)) {
    error = "cannot write to the stack of thread " + std::to_string(borrowed_);
    return std::nullopt;
  }
  if (!write_registers(borrowed_, frame.registers)) {
    error = "cannot set the registers of thread " + std::to_string(borrowed_);
    return std::nullopt;
  }
  while (true) {
    std::optional<ThreadStop> stop = threads_.run_until_stop(borrowed_, kCallTimeoutMs);
    if (!stop || stop->exited) {
      error = stop ? "thread " + std::to_string(borrowed_) + " ended during the injected call"
                   : "the injected call did not return within 60 s";
      return std::nullopt;
    }
    MachineRegisters registers{};
    if (!read_registers(borrowed_, registers)) {
      error = "cannot read the registers of thread " + std::to_string(borrowed_);
      return std::nullopt;
    }
    if (stop->signal == SIGSEGV && program_counter(registers) == kReturnAddress) {
      threads_.set_pending_signal(borrowed_, 0);
      return return_value(registers);
    }
    if (stop->signal == SIGSEGV || stop->signal == SIGBUS || stop->signal == SIGILL) {
      threads_.set_pending_signal(borrowed_, 0);
      error = std::string("the injected call faulted (") + strsignal(stop->signal) + ")";
      return std::nullopt;
    }
    // Any other stop (a signal for the program, an event) is passed on and
    // the call goes on.
  }
}

bool Injection::load_and_begin(InjectionResult& result) {
  std::string error;
  std::optional<uint64_t> scratch =
      call(libc_.mmap, {0, kScratchBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        static_cast<uint64_t>(-1), 0},
           error);
  if (!scratch || *scratch == reinterpret_cast<uint64_t>(MAP_FAILED) || *scratch == 0) {
    result.error = error.empty() ? "mmap failed inside the process" : error;
    return false;
  }
  uint64_t path_at = *scratch;
  uint64_t options_at = *scratch + 4096;
  bool written = request_.library_in_target.size() < 4096 && request_.options.size() < 32768 &&
                 memory_.write_string(path_at, request_.library_in_target) &&
                 memory_.write_string(options_at, request_.options);
  bool ok = false;
  if (!written) {
    result.error = "cannot write the library's path into the process";
  } else {
    uint64_t mode = RTLD_NOW | (libc_.dlopen_is_private ? kLibcDlopenFlag : 0);
    std::optional<uint64_t> handle = call(libc_.dlopen, {path_at, mode}, error);
    if (!handle || *handle == 0) {
      std::string why = error;
      if (handle && libc_.dlerror) {
        std::optional<uint64_t> text = call(libc_.dlerror, {}, error);
        if (text && *text) why = memory_.read_string(*text, 1024);
      }
      result.error = "dlopen(" + request_.library_in_target + ") failed in the process" +
                     (why.empty() ? "" : ": " + why);
    } else {
      ok = begin(result, options_at, error);
    }
  }
  call(libc_.munmap, {*scratch, kScratchBytes}, error);
  return ok;
}

// The library is found in the target's maps by its inode: the path there is
// the target's view, which may differ from ours.
std::optional<uint64_t> library_base(pid_t pid, const std::string& library_here) {
  struct stat file{};
  if (::stat(library_here.c_str(), &file) != 0) return std::nullopt;
  std::optional<uint64_t> lowest;
  for (const MappedFile& mapped : TargetProcess(pid).mapped_files()) {
    if (mapped.inode != file.st_ino || mapped.offset != 0) continue;
    if (!lowest || mapped.start < *lowest) lowest = mapped.start;
  }
  return lowest;
}

bool Injection::begin(InjectionResult& result, uint64_t options_at, std::string& error) {
  ElfSymbolLookup symbol = find_dynamic_symbol(request_.library_here, kAttachBeginSymbol);
  std::optional<uint64_t> base = library_base(request_.pid, request_.library_here);
  if (!symbol.value || !base) {
    result.error = symbol.value ? "the library was loaded but is not in the process's maps"
                                : symbol.error;
    return false;
  }
  std::optional<uint64_t> returned = call(*base + *symbol.value, {options_at}, error);
  if (!returned) {
    result.error = error;
    return false;
  }
  result.begin_result = static_cast<int32_t>(*returned & 0xffffffffu);
  return true;
}

}  // namespace

InjectionResult inject_library(const InjectionRequest& request) {
  InjectionResult result;
  TargetProcess target(request.pid);
  LibcFunctions libc;
  if (!resolve_libc(target, libc, result.error)) return result;
  RemoteMemory memory(request.pid);
  TracedThreads threads(request.pid);
  int error_number = 0;
  if (!threads.seize_and_stop_all(error_number)) {
    result.ptrace_errno = error_number;
    result.error = std::string("ptrace: ") + std::strerror(error_number);
    return result;
  }
  if (!memory.is_open()) {
    result.error = "cannot open /proc/" + std::to_string(request.pid) + "/mem";
    return result;  // threads released by their destructor
  }
  Injection injection(request, threads, memory, libc);
  if (!injection.borrow_thread(result.error)) return result;
  result.ok = injection.load_and_begin(result);
  // Stop everyone before touching the borrowed thread's registers, so the
  // release below finds every thread stopped.
  threads.stop_all(nullptr);
  if (!injection.give_back() && result.error.empty()) {
    result.error = "cannot restore the registers of the borrowed thread";
    result.ok = false;
  }
  threads.release();
  return result;
}

}  // namespace oomtrace::cli
