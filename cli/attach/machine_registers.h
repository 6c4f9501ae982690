// The registers of a stopped thread, and what a function call needs of
// them, for the two machines the injector supports. Everything else in the
// injector is machine-independent.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <sys/types.h>
#include <sys/user.h>

namespace oomtrace::cli {

#if defined(__x86_64__)
using MachineRegisters = user_regs_struct;
#elif defined(__aarch64__)
using MachineRegisters = user_regs_struct;  // glibc: regs[31], sp, pc, pstate
#else
#error "oomtrace attach supports x86-64 and AArch64"
#endif

bool read_registers(pid_t tid, MachineRegisters& registers);
bool write_registers(pid_t tid, const MachineRegisters& registers);

uint64_t program_counter(const MachineRegisters& registers);
void set_program_counter(MachineRegisters& registers, uint64_t address);

// The breakpoint instruction, and where a thread that hit one at `address`
// reports its program counter (x86-64 after the int3, AArch64 at the brk).
uint32_t breakpoint_instruction();
size_t breakpoint_size();
uint64_t breakpoint_address_from_stop(uint64_t program_counter);

// A stopped thread as it was, to put back after the injected calls.
// `system_call`: the call it was stopped in, or -1. A thread stopped by
// PTRACE_INTERRUPT inside a blocking call is a safe place to borrow: it
// holds no lock of the C library or the loader.
struct SavedThread {
  MachineRegisters registers{};
  long system_call = -1;
  uint64_t first_argument = 0;  // of that call (AArch64 returns over it)
};
bool save_thread(pid_t tid, SavedThread& saved);

// Registers for calling `function(arguments...)` on the thread: the stack
// moved below the current one (past the x86-64 red zone), the return address
// set to `return_address` (an unmapped address: the return faults, and the
// fault is how the injector sees the call end), and no system call restart
// pending. `write_stack` stores the return address where x86-64 wants it.
struct CallFrame {
  MachineRegisters registers;
  uint64_t return_slot = 0;  // x86-64: where the return address goes (0 on AArch64)
};
CallFrame prepare_call(pid_t tid, const MachineRegisters& saved, uint64_t function,
                       std::initializer_list<uint64_t> arguments, uint64_t return_address);
uint64_t return_value(const MachineRegisters& registers);

// Restores a thread to what it was before the calls, including a system
// call it was in, which then restarts as if nothing had happened.
bool restore_thread(pid_t tid, const SavedThread& saved);

}  // namespace oomtrace::cli
