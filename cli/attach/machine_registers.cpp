#include "cli/attach/machine_registers.h"

#include <cerrno>
#include <elf.h>
#include <fstream>
#include <string>
#include <sys/ptrace.h>
#include <sys/uio.h>

namespace oomtrace::cli {
namespace {

// Below the stack pointer: x86-64's red zone is 128 bytes; more leaves the
// interrupted function's scratch space alone on either machine.
constexpr uint64_t kStackGap = 512;

}  // namespace

bool read_registers(pid_t tid, MachineRegisters& registers) {
  iovec vector{&registers, sizeof registers};
  return ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &vector) == 0;
}

bool write_registers(pid_t tid, const MachineRegisters& registers) {
  iovec vector{const_cast<MachineRegisters*>(&registers), sizeof registers};
  return ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &vector) == 0;
}

#if defined(__x86_64__)

uint64_t program_counter(const MachineRegisters& registers) { return registers.rip; }
void set_program_counter(MachineRegisters& registers, uint64_t address) { registers.rip = address; }
uint32_t breakpoint_instruction() { return 0xcc; }  // int3
size_t breakpoint_size() { return 1; }
uint64_t breakpoint_address_from_stop(uint64_t pc) { return pc - 1; }

bool save_thread(pid_t tid, SavedThread& saved) {
  if (!read_registers(tid, saved.registers)) return false;
  saved.system_call = static_cast<long>(saved.registers.orig_rax);
  saved.first_argument = saved.registers.rdi;
  return true;
}

CallFrame prepare_call(pid_t, const MachineRegisters& saved, uint64_t function,
                       std::initializer_list<uint64_t> arguments, uint64_t return_address) {
  (void)return_address;
  CallFrame frame;
  MachineRegisters& r = frame.registers;
  r = saved;
  // At a function's first instruction the ABI wants rsp + 8 aligned to 16.
  uint64_t top = ((saved.rsp - kStackGap) & ~uint64_t{15}) - 8;
  r.rsp = top;
  frame.return_slot = top;
  unsigned long long* slots[] = {&r.rdi, &r.rsi, &r.rdx, &r.rcx, &r.r8, &r.r9};
  size_t index = 0;
  for (uint64_t argument : arguments) *slots[index++] = argument;
  r.rax = 0;  // no vector registers used by a variadic callee
  r.rip = function;
  // Not in a system call any more: the kernel must not restart one here.
  r.orig_rax = static_cast<unsigned long long>(-1);
  return frame;
}

uint64_t return_value(const MachineRegisters& registers) { return registers.rax; }

bool restore_thread(pid_t tid, const SavedThread& saved) {
  // orig_rax and rax carry the interrupted call's restart; the kernel
  // restarts it when the thread resumes.
  return write_registers(tid, saved.registers);
}

#elif defined(__aarch64__)

uint64_t program_counter(const MachineRegisters& registers) { return registers.pc; }
void set_program_counter(MachineRegisters& registers, uint64_t address) { registers.pc = address; }
uint32_t breakpoint_instruction() { return 0xd4200000; }  // brk #0
size_t breakpoint_size() { return 4; }
uint64_t breakpoint_address_from_stop(uint64_t pc) { return pc; }

namespace {

bool set_system_call_number(pid_t tid, int number) {
  iovec vector{&number, sizeof number};
  return ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_ARM_SYSTEM_CALL), &vector) == 0;
}

// The first argument of the call the thread is blocked in: AArch64 returns
// the result in x0, over the argument, and keeps the original where ptrace
// cannot reach it; /proc still shows it while the thread is stopped there.
bool first_argument_of_blocked_call(pid_t tid, uint64_t& argument) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/syscall");
  long number = 0;
  std::string first;
  if (!(in >> number >> first)) return false;
  argument = std::stoull(first, nullptr, 16);
  return true;
}

}  // namespace

bool save_thread(pid_t tid, SavedThread& saved) {
  if (!read_registers(tid, saved.registers)) return false;
  int number = -1;
  iovec vector{&number, sizeof number};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_ARM_SYSTEM_CALL), &vector) != 0) {
    number = -1;
  }
  saved.system_call = number;
  if (number >= 0 && !first_argument_of_blocked_call(tid, saved.first_argument)) {
    saved.system_call = -1;  // cannot restart it faithfully: not a safe place
  }
  return true;
}

CallFrame prepare_call(pid_t tid, const MachineRegisters& saved, uint64_t function,
                       std::initializer_list<uint64_t> arguments, uint64_t return_address) {
  CallFrame frame;
  MachineRegisters& r = frame.registers;
  r = saved;
  r.sp = (saved.sp - kStackGap) & ~uint64_t{15};
  size_t index = 0;
  for (uint64_t argument : arguments) r.regs[index++] = argument;
  r.regs[30] = return_address;  // lr
  r.pc = function;
  set_system_call_number(tid, -1);
  return frame;
}

uint64_t return_value(const MachineRegisters& registers) { return registers.regs[0]; }

bool restore_thread(pid_t tid, const SavedThread& saved) {
  MachineRegisters registers = saved.registers;
  // -ERESTARTSYS (512) to -ERESTART_RESTARTBLOCK (516): the call was cut
  // short by the stop and the kernel would have restarted it; any other
  // value is a finished call's result, kept as it is.
  auto result = static_cast<int64_t>(registers.regs[0]);
  bool restartable = result <= -512 && result >= -516;
  if (saved.system_call >= 0 && restartable) {
    // Restart the call by hand: back to the svc with its first argument,
    // since the kernel's own restart would use a first argument that the
    // injected calls' system calls replaced.
    registers.regs[0] = saved.first_argument;
    registers.regs[8] = static_cast<uint64_t>(saved.system_call);
    registers.pc -= 4;
    set_system_call_number(tid, -1);
  }
  return write_registers(tid, registers);
}

#endif

}  // namespace oomtrace::cli
