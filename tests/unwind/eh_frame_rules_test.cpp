// The CFA program interpreter (interpose/stacks/eh_frame_rules.h) on
// hand-assembled programs: the rows GCC writes for a function that sets up
// rbp, remember/restore around an early return, and what must make a rule
// unsupported, outermost or leave the caller's rbp lost.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "interpose/stacks/eh_frame_rules.h"

using oomtrace::interpose::stacks::CfaProgram;
using oomtrace::interpose::stacks::FrameRule;
using oomtrace::interpose::stacks::run_cfa_program;

namespace {

constexpr uintptr_t kStart = 0x1000;

// x86-64's usual CIE: CFA = rsp + 8, return address at CFA - 8.
const std::vector<uint8_t> kCie = {0x0c, 0x07, 0x08, 0x90, 0x01};

FrameRule rule_at(const std::vector<uint8_t>& fde, uintptr_t offset) {
  CfaProgram program{kCie.data(), kCie.data() + kCie.size(), fde.data(), fde.data() + fde.size(), 1, -8, 0, kStart};
  return run_cfa_program(program, kStart + offset);
}

// push rbp; mov rbp, rsp; ...; leave (at +20); ret: as GCC describes it.
const std::vector<uint8_t> kRbpFrame = {
    0x41, 0x0e, 0x10, 0x86, 0x02,  // +1: CFA = rsp + 16, rbp saved at CFA - 16
    0x43, 0x0d, 0x06,              // +4: CFA = rbp + 16
    0x50, 0x0c, 0x07, 0x08,        // +20: CFA = rsp + 8
};

}  // namespace

TEST_CASE("eh_frame rules: a function that sets up rbp, row by row") {
  FrameRule entry = rule_at(kRbpFrame, 0);
  CHECK(entry.kind == FrameRule::Kind::Step);
  CHECK_FALSE(entry.cfa_from_rbp);
  CHECK(entry.cfa_offset == 8);
  CHECK(entry.rbp == FrameRule::CallerRbp::Unchanged);

  FrameRule pushed = rule_at(kRbpFrame, 3);
  CHECK_FALSE(pushed.cfa_from_rbp);
  CHECK(pushed.cfa_offset == 16);
  CHECK(pushed.rbp == FrameRule::CallerRbp::AtCfaOffset);
  CHECK(pushed.rbp_offset == -16);

  FrameRule body = rule_at(kRbpFrame, 10);
  CHECK(body.cfa_from_rbp);
  CHECK(body.cfa_offset == 16);
  CHECK(body.rbp_offset == -16);

  FrameRule after_leave = rule_at(kRbpFrame, 20);
  CHECK_FALSE(after_leave.cfa_from_rbp);
  CHECK(after_leave.cfa_offset == 8);
}

TEST_CASE("eh_frame rules: remember_state and restore_state around an early return") {
  const std::vector<uint8_t> fde = {
      0x41, 0x0e, 0x10,  // +1: CFA = rsp + 16
      0x0a,              // remember
      0x44, 0x0e, 0x08,  // +5: CFA = rsp + 8 (the early return's ret)
      0x41, 0x0b,        // +6: restore: CFA = rsp + 16 again
  };
  CHECK(rule_at(fde, 2).cfa_offset == 16);
  CHECK(rule_at(fde, 5).cfa_offset == 8);
  CHECK(rule_at(fde, 6).cfa_offset == 16);
  CHECK(rule_at(fde, 6).kind == FrameRule::Kind::Step);
  // A restore with nothing remembered is not a program to trust.
  CHECK(rule_at({0x0b}, 0).kind == FrameRule::Kind::Unsupported);
}

TEST_CASE("eh_frame rules: what the compact rule cannot say") {
  // DW_CFA_def_cfa_expression (stack realignment): unsupported.
  CHECK(rule_at({0x0f, 0x03, 0x76, 0x78, 0x06}, 0).kind == FrameRule::Kind::Unsupported);
  // CFA from r10: unsupported.
  CHECK(rule_at({0x0c, 0x0a, 0x08}, 0).kind == FrameRule::Kind::Unsupported);
  // The return address somewhere else than CFA - 8: unsupported.
  CHECK(rule_at({0x90, 0x02}, 0).kind == FrameRule::Kind::Unsupported);
  // An opcode not known here (DW_CFA_GNU_window_save): unsupported.
  CHECK(rule_at({0x2d}, 0).kind == FrameRule::Kind::Unsupported);
  // A truncated instruction: unsupported.
  CHECK(rule_at({0x0c, 0x07}, 0).kind == FrameRule::Kind::Unsupported);
  // The return address undefined (_start, a thread's first frame): outermost.
  CHECK(rule_at({0x07, 0x10}, 0).kind == FrameRule::Kind::Outermost);
  // rbp by an expression: the caller's rbp is lost, the step itself fine.
  FrameRule by_expression = rule_at({0x10, 0x06, 0x02, 0x76, 0x00}, 0);
  CHECK(by_expression.kind == FrameRule::Kind::Step);
  CHECK(by_expression.rbp == FrameRule::CallerRbp::Lost);
  // Other callee-saved registers (rbx here) change nothing.
  FrameRule with_rbx = rule_at({0x41, 0x0e, 0x10, 0x83, 0x02}, 1);
  CHECK(with_rbx.kind == FrameRule::Kind::Step);
  CHECK(with_rbx.rbp == FrameRule::CallerRbp::Unchanged);
}
