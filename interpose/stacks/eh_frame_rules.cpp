#include "interpose/stacks/eh_frame_rules.h"

#include <cstring>

namespace oomtrace::interpose::stacks {
namespace {

// DWARF register numbers on x86-64 (System V psABI, figure 3.36).
constexpr uint64_t kRbp = 6;
constexpr uint64_t kRsp = 7;
constexpr uint64_t kReturnAddress = 16;

// Pointer encodings (DW_EH_PE_*, LSB's "Exception Frames").
constexpr uint8_t kOmit = 0xff;
constexpr uint8_t kFormatMask = 0x0f;
constexpr uint8_t kApplicationMask = 0x70;
constexpr uint8_t kAbsolute = 0x00;
constexpr uint8_t kPcRelative = 0x10;
constexpr uint8_t kDataRelative = 0x30;
constexpr uint8_t kDataRelativeSigned4 = 0x3b;  // the search table's usual encoding

// Reads little-endian DWARF data, never past `end`; a read that would go
// past it marks the reader failed and returns 0.
struct Reader {
  const uint8_t* at;
  const uint8_t* end;
  bool failed = false;

  bool has(size_t bytes) {
    if (failed || static_cast<size_t>(end - at) < bytes) failed = true;
    return !failed;
  }
  template <typename Value>
  Value fixed() {
    Value value{};
    if (!has(sizeof value)) return value;
    std::memcpy(&value, at, sizeof value);
    at += sizeof value;
    return value;
  }
  uint8_t byte() { return fixed<uint8_t>(); }
  uint64_t uleb() {
    uint64_t value = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (!has(1) || shift > 63) return failed = true, 0;
      uint8_t part = *at++;
      value |= uint64_t{part & 0x7fu} << shift;
      if (!(part & 0x80)) return value;
    }
  }
  int64_t sleb() {
    uint64_t value = 0;
    unsigned shift = 0;
    uint8_t part = 0;
    do {
      if (!has(1) || shift > 63) return failed = true, 0;
      part = *at++;
      value |= uint64_t{part & 0x7fu} << shift;
      shift += 7;
    } while (part & 0x80);
    if (shift < 64 && (part & 0x40)) value |= ~uint64_t{0} << shift;
    return static_cast<int64_t>(value);
  }
  void skip(uint64_t bytes) {
    if (has(bytes)) at += bytes;
  }
  // An encoded pointer; `data_base` is what DW_EH_PE_datarel is relative to
  // (the search table's own address), 0 where it has no meaning.
  uintptr_t pointer(uint8_t encoding, uintptr_t data_base) {
    auto here = reinterpret_cast<uintptr_t>(at);
    uint64_t value = 0;
    switch (encoding & kFormatMask) {
      case 0x00: value = fixed<uint64_t>(); break;
      case 0x01: value = uleb(); break;
      case 0x02: value = fixed<uint16_t>(); break;
      case 0x03: value = fixed<uint32_t>(); break;
      case 0x04: value = fixed<uint64_t>(); break;
      case 0x09: value = static_cast<uint64_t>(sleb()); break;
      case 0x0a: value = static_cast<uint64_t>(int64_t{fixed<int16_t>()}); break;
      case 0x0b: value = static_cast<uint64_t>(int64_t{fixed<int32_t>()}); break;
      case 0x0c: value = fixed<uint64_t>(); break;
      default: failed = true; return 0;
    }
    switch (encoding & kApplicationMask) {
      case kAbsolute: break;
      case kPcRelative: value += here; break;
      case kDataRelative:
        if (data_base == 0) failed = true;
        value += data_base;
        break;
      default: failed = true; return 0;  // textrel, funcrel, aligned: not used by GCC or Clang
    }
    if (encoding & 0x80) failed = true;  // indirect: only personality routines use it
    return static_cast<uintptr_t>(value);
  }
};

// The rule of one register the walk cares about, while a program runs.
struct RegisterRule {
  enum Kind : uint8_t { SameValue, AtCfaOffset, Undefined, Other } kind = SameValue;
  int64_t offset = 0;
};

struct Row {
  uint64_t cfa_register = kRsp;
  int64_t cfa_offset = 0;
  bool cfa_is_expression = false;
  RegisterRule rbp;
  RegisterRule return_address;  // libgcc too reads an unmentioned one as unsaved, not undefined
};

constexpr int kMaxRememberedRows = 16;

struct Interpreter {
  const CfaProgram& program;
  uintptr_t target;  // rows starting at or below it apply
  Row row;
  Row initial;       // after the CIE's instructions: what DW_CFA_restore goes back to
  Row remembered[kMaxRememberedRows];
  int remembered_count = 0;
  uintptr_t location = 0;
  bool unsupported = false;

  RegisterRule* rule_of(uint64_t reg) {
    if (reg == kRbp) return &row.rbp;
    if (reg == kReturnAddress) return &row.return_address;
    return nullptr;  // rbx, r12-r15...: saved and restored, never needed for the CFA
  }
  void set_rule(uint64_t reg, RegisterRule::Kind kind, int64_t offset = 0) {
    if (reg == kRsp && kind != RegisterRule::SameValue) unsupported = true;  // rsp is the CFA itself
    if (RegisterRule* rule = rule_of(reg)) *rule = {kind, offset};
  }
  void restore(uint64_t reg) {
    if (reg == kRbp) row.rbp = initial.rbp;
    if (reg == kReturnAddress) row.return_address = initial.return_address;
  }
  // False once the next row would start past the target: stop there.
  bool advance(uint64_t delta) {
    uintptr_t next = location + delta * program.code_alignment;
    if (next > target) return false;
    location = next;
    return true;
  }

  // Runs instructions until the end or past the target. False to stop.
  bool run(Reader& code);
  bool step(Reader& code);
};

bool Interpreter::run(Reader& code) {
  while (code.at < code.end && !code.failed && !unsupported) {
    if (!step(code)) return false;
  }
  if (code.failed) unsupported = true;
  return true;
}

// One instruction (DWARF 5, section 6.4.2); false when an advance would
// pass the target.
bool Interpreter::step(Reader& code) {
  uint8_t opcode = code.byte();
  uint8_t operand = opcode & 0x3f;
  const int64_t data_alignment = program.data_alignment;
  switch (opcode >> 6) {
    case 1: return advance(operand);                                                  // advance_loc
    case 2: set_rule(operand, RegisterRule::AtCfaOffset,
                     static_cast<int64_t>(code.uleb()) * data_alignment); return true;  // offset
    case 3: restore(operand); return true;                                            // restore
    default: break;
  }
  switch (opcode) {
    case 0x00: return true;  // nop
    case 0x01: {             // set_loc
      uintptr_t next = code.pointer(program.pointer_encoding, 0);
      if (next > target) return false;
      location = next;
      return true;
    }
    case 0x02: return advance(code.byte());
    case 0x03: return advance(code.fixed<uint16_t>());
    case 0x04: return advance(code.fixed<uint32_t>());
    case 0x05: {  // offset_extended
      uint64_t reg = code.uleb();
      set_rule(reg, RegisterRule::AtCfaOffset, static_cast<int64_t>(code.uleb()) * data_alignment);
      return true;
    }
    case 0x06: restore(code.uleb()); return true;  // restore_extended
    case 0x07: set_rule(code.uleb(), RegisterRule::Undefined); return true;
    case 0x08: set_rule(code.uleb(), RegisterRule::SameValue); return true;
    case 0x09: {  // register: the value lives in another register, unknown here
      uint64_t reg = code.uleb();
      code.uleb();
      set_rule(reg, RegisterRule::Other);
      return true;
    }
    case 0x0a:  // remember_state
      if (remembered_count == kMaxRememberedRows) return unsupported = true, true;
      remembered[remembered_count++] = row;
      return true;
    case 0x0b:  // restore_state: the CFA rule is saved too (DWARF 5 corrects DWARF 4 there)
      if (remembered_count == 0) return unsupported = true, true;
      row = remembered[--remembered_count];
      return true;
    case 0x0c:  // def_cfa
      row.cfa_register = code.uleb();
      row.cfa_offset = static_cast<int64_t>(code.uleb());
      row.cfa_is_expression = false;
      return true;
    case 0x0d: row.cfa_register = code.uleb(); return true;  // def_cfa_register
    case 0x0e: row.cfa_offset = static_cast<int64_t>(code.uleb()); return true;
    case 0x0f:  // def_cfa_expression
      code.skip(code.uleb());
      row.cfa_is_expression = true;
      return true;
    case 0x10: {  // expression
      uint64_t reg = code.uleb();
      code.skip(code.uleb());
      set_rule(reg, RegisterRule::Other);
      return true;
    }
    case 0x11: {  // offset_extended_sf
      uint64_t reg = code.uleb();
      set_rule(reg, RegisterRule::AtCfaOffset, code.sleb() * data_alignment);
      return true;
    }
    case 0x12:  // def_cfa_sf
      row.cfa_register = code.uleb();
      row.cfa_offset = code.sleb() * data_alignment;
      row.cfa_is_expression = false;
      return true;
    case 0x13: row.cfa_offset = code.sleb() * data_alignment; return true;  // def_cfa_offset_sf
    case 0x14:                                                              // val_offset
    case 0x15: {                                                            // val_offset_sf
      uint64_t reg = code.uleb();
      if (opcode == 0x14) code.uleb(); else code.sleb();
      set_rule(reg, RegisterRule::Other);
      return true;
    }
    case 0x16: {  // val_expression
      uint64_t reg = code.uleb();
      code.skip(code.uleb());
      set_rule(reg, RegisterRule::Other);
      return true;
    }
    case 0x2e: code.uleb(); return true;  // GNU_args_size: matters to landing pads only
    default: unsupported = true; return true;  // GNU_window_save, vendor opcodes, garbage
  }
}

FrameRule rule_from_row(const Row& row) {
  FrameRule rule;
  if (row.return_address.kind == RegisterRule::Undefined) {
    rule.kind = FrameRule::Kind::Outermost;
    return rule;
  }
  bool cfa_register_known = row.cfa_register == kRsp || row.cfa_register == kRbp;
  bool return_address_at_cfa_minus_8 =
      row.return_address.kind == RegisterRule::AtCfaOffset && row.return_address.offset == -8;
  if (row.cfa_is_expression || !cfa_register_known || row.cfa_offset <= 0 || row.cfa_offset > UINT32_MAX / 2 ||
      !return_address_at_cfa_minus_8) {
    return rule;  // Unsupported
  }
  rule.kind = FrameRule::Kind::Step;
  rule.cfa_from_rbp = row.cfa_register == kRbp;
  rule.cfa_offset = static_cast<uint32_t>(row.cfa_offset);
  switch (row.rbp.kind) {
    case RegisterRule::SameValue: rule.rbp = FrameRule::CallerRbp::Unchanged; break;
    case RegisterRule::AtCfaOffset:
      rule.rbp = FrameRule::CallerRbp::AtCfaOffset;
      rule.rbp_offset = static_cast<int32_t>(row.rbp.offset);
      if (row.rbp.offset >= 0 || row.rbp.offset < -65536) rule.rbp = FrameRule::CallerRbp::Lost;
      break;
    default: rule.rbp = FrameRule::CallerRbp::Lost; break;
  }
  return rule;
}

// The loaded segment holding `address`, as a reader bounded by its end.
bool segment_reader(const dl_phdr_info& module, uintptr_t address, Reader& reader) {
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = module.dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    uintptr_t begin = module.dlpi_addr + segment.p_vaddr;
    uintptr_t end = begin + segment.p_filesz;  // past p_filesz is .bss, never call-frame data
    if (address >= begin && address < end) {
      reader = {reinterpret_cast<const uint8_t*>(address), reinterpret_cast<const uint8_t*>(end)};
      return true;
    }
  }
  return false;
}

// The address of the FDE whose range may hold `address`: the last entry of
// the sorted search table starting at or below it. 0 if none.
uintptr_t search_table(const dl_phdr_info& module, uintptr_t header_address, uintptr_t address) {
  Reader header{};
  if (!segment_reader(module, header_address, header)) return 0;
  uint8_t version = header.byte();
  uint8_t frame_pointer_encoding = header.byte();
  uint8_t count_encoding = header.byte();
  uint8_t table_encoding = header.byte();
  if (header.failed || version != 1 || count_encoding == kOmit || table_encoding != kDataRelativeSigned4) return 0;
  header.pointer(frame_pointer_encoding, header_address);
  uint64_t count = header.pointer(count_encoding, header_address);
  if (header.failed || count == 0 || count > static_cast<uint64_t>(header.end - header.at) / 8) return 0;
  const uint8_t* table = header.at;
  auto entry = [&](uint64_t index, int half) {
    int32_t value;
    std::memcpy(&value, table + index * 8 + half * 4, sizeof value);
    return header_address + static_cast<intptr_t>(value);
  };
  if (address < entry(0, 0)) return 0;
  uint64_t low = 0, high = count;  // entry(low) <= address < entry(high)
  while (high - low > 1) {
    uint64_t middle = low + (high - low) / 2;
    if (entry(middle, 0) <= address) low = middle; else high = middle;
  }
  return entry(low, 1);
}

struct CommonInformation {
  CfaProgram program{};
  bool signal_frame = false;
  uint8_t lsda_encoding = kOmit;
  bool has_augmentation_data = false;
};

// A CIE (LSB, "Exception Frames"): its alignment factors, the FDE pointer
// encoding and its initial instructions.
bool read_cie(const dl_phdr_info& module, uintptr_t cie_address, CommonInformation& cie) {
  Reader reader{};
  if (!segment_reader(module, cie_address, reader)) return false;
  uint64_t length = reader.fixed<uint32_t>();
  if (length == 0xffffffff) length = reader.fixed<uint64_t>();
  if (reader.failed || length == 0 || length > static_cast<uint64_t>(reader.end - reader.at)) return false;
  const uint8_t* end = reader.at + length;
  reader.end = end;
  if (reader.fixed<uint32_t>() != 0) return false;  // CIE id
  uint8_t version = reader.byte();
  if (version != 1 && version != 3) return false;
  const char* augmentation = reinterpret_cast<const char*>(reader.at);
  size_t augmentation_length = strnlen(augmentation, static_cast<size_t>(end - reader.at));
  reader.skip(augmentation_length + 1);
  cie.program.code_alignment = reader.uleb();
  cie.program.data_alignment = reader.sleb();
  uint64_t return_column = version == 1 ? reader.byte() : reader.uleb();
  if (reader.failed || return_column != kReturnAddress) return false;
  cie.program.pointer_encoding = kAbsolute;
  const uint8_t* instructions = nullptr;
  for (size_t i = 0; i < augmentation_length; ++i) {
    char letter = augmentation[i];
    if (i == 0 && letter == 'z') {
      uint64_t data_length = reader.uleb();
      if (reader.failed || data_length > static_cast<uint64_t>(end - reader.at)) return false;
      instructions = reader.at + data_length;
      cie.has_augmentation_data = true;
    } else if (letter == 'R') {
      cie.program.pointer_encoding = reader.byte();
    } else if (letter == 'L') {
      cie.lsda_encoding = reader.byte();
    } else if (letter == 'P') {
      reader.pointer(reader.byte() & 0x7f, 0);  // only its size matters: never followed
    } else if (letter == 'S') {
      cie.signal_frame = true;
    } else if (!instructions) {
      return false;  // an unknown letter before the data's length is known
    } else {
      break;  // unknown but skippable: 'z' gave the data's length
    }
  }
  if (reader.failed) return false;
  cie.program.cie_instructions = instructions ? instructions : reader.at;
  cie.program.cie_end = end;
  return cie.program.cie_instructions <= end;
}

}  // namespace

FrameRule run_cfa_program(const CfaProgram& program, uintptr_t address) {
  Interpreter interpreter{program, address, {}, {}, {}};
  Reader cie{program.cie_instructions, program.cie_end};
  interpreter.location = program.start;
  // The CIE's instructions describe the entry point; an advance there
  // would be odd but is honoured the same way.
  interpreter.run(cie);
  interpreter.initial = interpreter.row;
  interpreter.location = program.start;
  if (!interpreter.unsupported) {
    Reader fde{program.fde_instructions, program.fde_end};
    interpreter.run(fde);
  }
  if (interpreter.unsupported) return {};
  return rule_from_row(interpreter.row);
}

FrameRule rule_at(const dl_phdr_info& module, uintptr_t address) {
  uintptr_t header_address = 0;
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    if (module.dlpi_phdr[i].p_type == PT_GNU_EH_FRAME) header_address = module.dlpi_addr + module.dlpi_phdr[i].p_vaddr;
  }
  if (header_address == 0) return {};
  uintptr_t fde_address = search_table(module, header_address, address);
  Reader fde{};
  if (fde_address == 0 || !segment_reader(module, fde_address, fde)) return {};
  uint64_t length = fde.fixed<uint32_t>();
  if (length == 0xffffffff) length = fde.fixed<uint64_t>();
  if (fde.failed || length == 0 || length > static_cast<uint64_t>(fde.end - fde.at)) return {};
  fde.end = fde.at + length;
  auto cie_pointer_at = reinterpret_cast<uintptr_t>(fde.at);
  uint32_t cie_offset = fde.fixed<uint32_t>();
  if (fde.failed || cie_offset == 0) return {};  // a CIE where an FDE should be
  CommonInformation cie;
  if (!read_cie(module, cie_pointer_at - cie_offset, cie) || cie.signal_frame) return {};
  uintptr_t start = fde.pointer(cie.program.pointer_encoding, 0);
  uintptr_t range = fde.pointer(cie.program.pointer_encoding & kFormatMask, 0);
  if (fde.failed || address < start || address - start >= range) return {};
  if (cie.has_augmentation_data) fde.skip(fde.uleb());
  if (fde.failed) return {};
  CfaProgram program = cie.program;
  program.fde_instructions = fde.at;
  program.fde_end = fde.end;
  program.start = start;
  return run_cfa_program(program, address);
}

}  // namespace oomtrace::interpose::stacks
