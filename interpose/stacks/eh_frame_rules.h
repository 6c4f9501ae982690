// One step of an x86-64 unwind, reduced from the DWARF call-frame
// information (.eh_frame) to the few numbers a walk needs:
//
//   CFA             = rsp or rbp of this frame + an offset
//   return address  = the word at CFA - 8
//   caller's rbp    = the word at CFA + k, or this frame's rbp unchanged
//
// Code built without frame pointers is described as fully as code built
// with them. What the rule cannot say (a CFA computed by an expression or
// from another register, a return address saved elsewhere, a signal
// frame, an opcode not known here) makes it Unsupported: the caller then
// hands the whole stack to libgcc's unwinder, which understands all of it.
#pragma once

#include <link.h>

#include <cstdint>

namespace oomtrace::interpose::stacks {

struct FrameRule {
  enum class Kind : uint8_t {
    Unsupported,  // not expressible here (or no call-frame information at all)
    Step,         // the caller's frame follows from this rule
    Outermost,    // the return address is undefined: the stack's first frame
  };
  enum class CallerRbp : uint8_t {
    Unchanged,    // the caller's rbp is this frame's rbp
    AtCfaOffset,  // saved at CFA + rbp_offset
    Lost,         // not recoverable; fine unless an outer frame's CFA needs it
  };
  Kind kind = Kind::Unsupported;
  bool cfa_from_rbp = false;  // else from rsp
  uint32_t cfa_offset = 0;
  CallerRbp rbp = CallerRbp::Unchanged;
  int32_t rbp_offset = 0;
};

// The rule in force at `address` (a pc of the innermost frame, or a return
// address minus one), from the .eh_frame_hdr search table of the loaded
// object `module`, which holds the address. Reads only the object's loaded
// segments. To be called inside a dl_iterate_phdr callback, so that the
// object cannot be unloaded meanwhile. Never allocates.
FrameRule rule_at(const dl_phdr_info& module, uintptr_t address);

// The same for a CFA program given as bytes (CIE initial instructions, then
// the FDE's), starting at `start`: exposed for tests.
struct CfaProgram {
  const uint8_t* cie_instructions;
  const uint8_t* cie_end;
  const uint8_t* fde_instructions;
  const uint8_t* fde_end;
  uint64_t code_alignment;
  int64_t data_alignment;
  uint8_t pointer_encoding;  // for DW_CFA_set_loc
  uintptr_t start;
};
FrameRule run_cfa_program(const CfaProgram& program, uintptr_t address);

}  // namespace oomtrace::interpose::stacks
