#include "interpose/stacks/cfi_unwinder.h"

#include <link.h>
#include <unwind.h>

#include <atomic>

#include "interpose/stacks/eh_frame_rules.h"
#include "interpose/stacks/stack_bounds.h"
#include "interpose/symbol_resolution.h"  // OOMTRACE_NOT_SANITIZED

namespace oomtrace::interpose::stacks {
namespace {

std::atomic<uint64_t> g_rules_computed{0};
std::atomic<uint64_t> g_fallbacks{0};
std::atomic<uint64_t> g_cache_flushes{0};

// ---- libgcc's unwinder, the fallback ------------------------------------

struct LibgccWalk {
  uintptr_t* frames;
  int capacity;
  int depth;
  int own_frames_left;  // innermost frames that are the walk's own
  LeadingFrameFilter skip_leading;
};

_Unwind_Reason_Code collect_libgcc_frame(struct _Unwind_Context* context, void* data) {
  auto* walk = static_cast<LibgccWalk*>(data);
  uintptr_t ip = _Unwind_GetIP(context);
  if (ip == 0) return _URC_END_OF_STACK;
  if (walk->own_frames_left > 0) {
    --walk->own_frames_left;
    return _URC_NO_REASON;
  }
  if (walk->skip_leading) {
    if (walk->skip_leading(reinterpret_cast<const void*>(ip))) return _URC_NO_REASON;
    walk->skip_leading = nullptr;
  }
  if (walk->depth >= walk->capacity) return _URC_END_OF_STACK;
  walk->frames[walk->depth++] = ip;
  return _URC_NO_REASON;
}

// Leaves out its own frame and `caller_frames` more: the stack starts at
// the return address into whoever called the public function.
__attribute__((noinline)) int unwind_with_libgcc(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading,
                                                 int caller_frames) {
  LibgccWalk walk{frames, capacity, 0, 1 + caller_frames, skip_leading};
  _Unwind_Backtrace(&collect_libgcc_frame, &walk);
  // No tail call: the frame counted above must stay on the stack.
  asm volatile("" ::: "memory");
  return walk.depth;
}

}  // namespace

__attribute__((noinline)) int libgcc_backtrace(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading) {
  int depth = unwind_with_libgcc(frames, capacity, skip_leading, 1);
  asm volatile("" ::: "memory");
  return depth;
}

CfiCounters cfi_counters() {
  return {g_rules_computed.load(std::memory_order_relaxed), g_fallbacks.load(std::memory_order_relaxed),
          g_cache_flushes.load(std::memory_order_relaxed)};
}

#if defined(__x86_64__)

namespace {

// ---- the rule cache ------------------------------------------------------
//
// Open addressing, keyed by the lookup address (pc of the innermost frame,
// return address - 1 of the others). A slot's key is claimed once with a
// CAS and its packed rule stored after it; rules are never deleted one by
// one: they carry the epoch they were computed in, and a flush bumps the
// epoch. A slot whose rule belongs to an old epoch may be claimed for
// another key. Readers check the key again after reading the rule, so a
// slot being taken over reads as a miss, never as another key's rule.

constexpr int kSlotBits = 14;                 // 16384 slots, 256 KiB
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr int kMaxProbes = 16;

struct Slot {
  std::atomic<uintptr_t> key{0};
  std::atomic<uint64_t> rule{0};  // 0: being written
};

Slot g_slots[uint64_t{1} << kSlotBits];
std::atomic<uint32_t> g_epoch{1};             // never 0, so that a rule word is never 0
std::atomic<uint64_t> g_unloads_seen{~uint64_t{0}};  // dlpi_subs at the last miss

// A packed rule: bits 0-1 kind (1 step, 2 outermost, 3 unsupported; a word
// is never 0), 2 CFA from rbp, 3-4 the caller's rbp rule, 5-20 the epoch,
// 21-31 where rbp was saved (-offset / 8), 32-63 the CFA offset.
constexpr uint64_t kKindStep = 1, kKindOutermost = 2, kKindUnsupported = 3;

struct Packed {
  uint64_t word;
  uint64_t kind() const { return word & 3; }
  bool cfa_from_rbp() const { return (word >> 2) & 1; }
  FrameRule::CallerRbp rbp() const { return static_cast<FrameRule::CallerRbp>((word >> 3) & 3); }
  uint32_t epoch() const { return static_cast<uint32_t>((word >> 5) & 0xffff); }
  uint32_t rbp_distance() const { return static_cast<uint32_t>((word >> 21) & 0x7ff); }  // -offset/8
  uint32_t cfa_offset() const { return static_cast<uint32_t>(word >> 32); }
};

Packed pack(const FrameRule& rule, uint32_t epoch) {
  uint64_t kind = rule.kind == FrameRule::Kind::Step        ? kKindStep
                  : rule.kind == FrameRule::Kind::Outermost ? kKindOutermost
                                                            : kKindUnsupported;
  FrameRule::CallerRbp rbp = rule.rbp;
  uint64_t distance = 0;
  if (rbp == FrameRule::CallerRbp::AtCfaOffset) {
    // A saved rbp sits below the CFA, 8-byte aligned: that fits 11 bits.
    bool fits = rule.rbp_offset < 0 && rule.rbp_offset % 8 == 0 && -rule.rbp_offset / 8 <= 0x7ff;
    if (fits) distance = static_cast<uint64_t>(-rule.rbp_offset / 8);
    else rbp = FrameRule::CallerRbp::Lost;
  }
  uint64_t word = kind | (uint64_t{rule.cfa_from_rbp} << 2) | (uint64_t(rbp) << 3) |
                  (uint64_t{epoch & 0xffff} << 5) | (distance << 21) | (uint64_t{rule.cfa_offset} << 32);
  return {word};
}

uint64_t slot_of(uintptr_t key) { return (key * 0x9e3779b97f4a7c15ull) >> (64 - kSlotBits); }

// 0 when `key` has no rule of this epoch.
uint64_t cached_rule(uintptr_t key, uint32_t epoch) {
  uint64_t home = slot_of(key);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    Slot& slot = g_slots[(home + probe) & kSlotMask];
    uintptr_t found = slot.key.load(std::memory_order_acquire);
    if (found == 0) return 0;
    if (found != key) continue;
    uint64_t rule = slot.rule.load(std::memory_order_acquire);
    if (slot.key.load(std::memory_order_relaxed) != key) return 0;  // taken over meanwhile
    return Packed{rule}.epoch() == (epoch & 0xffff) ? rule : 0;
  }
  return 0;
}

void remember_rule(uintptr_t key, uint64_t rule) {
  uint32_t epoch = Packed{rule}.epoch();
  uint64_t home = slot_of(key);
  for (int probe = 0; probe < kMaxProbes; ++probe) {
    Slot& slot = g_slots[(home + probe) & kSlotMask];
    uintptr_t found = slot.key.load(std::memory_order_acquire);
    if (found == 0 && slot.key.compare_exchange_strong(found, key, std::memory_order_acq_rel)) found = key;
    if (found != key) {
      // Another key: take the slot over only if its rule is of an old epoch
      // (0 is a slot still being written: left alone).
      uint64_t old = slot.rule.load(std::memory_order_acquire);
      if (old == 0 || Packed{old}.epoch() == epoch) continue;
      if (!slot.key.compare_exchange_strong(found, key, std::memory_order_acq_rel)) continue;
    }
    slot.rule.store(rule, std::memory_order_release);
    return;
  }
  // Crowded: not cached; the next walk through here interprets it again.
}

// ---- the slow path: one rule, under the loader's lock ----------------------

struct RuleSearch {
  uintptr_t address;
  FrameRule rule;
  bool found_module = false;
  uint64_t unloads = 0;
  bool counted_unloads = false;
};

bool holds(const dl_phdr_info& module, uintptr_t address) {
  for (int i = 0; i < module.dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = module.dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    uintptr_t begin = module.dlpi_addr + segment.p_vaddr;
    if (address >= begin && address - begin < segment.p_memsz) return true;
  }
  return false;
}

int find_rule(struct dl_phdr_info* module, size_t size, void* data) {
  auto* search = static_cast<RuleSearch*>(data);
  if (!search->counted_unloads && size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof module->dlpi_subs) {
    search->unloads = module->dlpi_subs;
    search->counted_unloads = true;
  }
  if (!holds(*module, search->address)) return 0;
  search->rule = rule_at(*module, search->address);
  search->found_module = true;
  return 1;
}

// Drops every cached rule when an object was unloaded since the last miss.
uint32_t epoch_after(uint64_t unloads) {
  uint64_t seen = g_unloads_seen.load(std::memory_order_acquire);
  if (seen == unloads || !g_unloads_seen.compare_exchange_strong(seen, unloads)) {
    return g_epoch.load(std::memory_order_acquire);
  }
  if (seen == ~uint64_t{0}) return g_epoch.load(std::memory_order_acquire);  // the first miss ever
  g_cache_flushes.fetch_add(1, std::memory_order_relaxed);
  uint32_t next = (g_epoch.load(std::memory_order_relaxed) + 1) & 0xffff;
  if (next == 0) {
    // The 16-bit epoch wrapped: rules of 65535 flushes ago would look
    // current again, so empty the table (a walk racing with this may see
    // a miss it did not need, nothing worse).
    for (Slot& slot : g_slots) slot.rule.store(0, std::memory_order_relaxed);
    next = 1;
  }
  g_epoch.store(next, std::memory_order_release);
  return next;
}

uint64_t compute_rule(uintptr_t address) {
  RuleSearch search{address, {}};
  dl_iterate_phdr(&find_rule, &search);
  g_rules_computed.fetch_add(1, std::memory_order_relaxed);
  uint32_t epoch = search.counted_unloads ? epoch_after(search.unloads) : g_epoch.load(std::memory_order_acquire);
  // Outside every loaded object (JIT code): libgcc also searches frames
  // registered at run time, so it decides.
  uint64_t rule = pack(search.found_module ? search.rule : FrameRule{}, epoch).word;
  remember_rule(address, rule);
  return rule;
}

uint64_t rule_for(uintptr_t address, uint32_t epoch) {
  uint64_t rule = cached_rule(address, epoch);
  return rule != 0 ? rule : compute_rule(address);
}

bool inside(const StackBounds& bounds, uintptr_t address) {
  return address >= bounds.low && address <= bounds.high - sizeof(uintptr_t) && address % sizeof(uintptr_t) == 0;
}

enum class WalkEnd { Done, NeedsLibgcc };

// The walk itself. Reads the stack only at addresses checked by inside();
// not instrumented, as capture_frame_pointer_stack: a sanitizer's redzones
// on the stack are legitimate places for a saved register to be read from.
OOMTRACE_NOT_SANITIZED WalkEnd walk(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t* frames, int capacity,
                                    LeadingFrameFilter skip_leading, int& depth) {
  StackBounds bounds = this_thread_stack();
  if (bounds.high == 0 || !inside(bounds, sp)) return WalkEnd::NeedsLibgcc;  // e.g. on a signal stack
  uint32_t epoch = g_epoch.load(std::memory_order_acquire);
  bool fp_known = true;
  uintptr_t lookup = pc;  // the innermost frame's own pc; return address - 1 after it
  while (true) {
    Packed rule{rule_for(lookup, epoch)};
    if (rule.kind() == kKindUnsupported) return WalkEnd::NeedsLibgcc;
    if (rule.kind() == kKindOutermost) return WalkEnd::Done;
    if (rule.cfa_from_rbp() && !fp_known) return WalkEnd::NeedsLibgcc;
    uintptr_t cfa = (rule.cfa_from_rbp() ? fp : sp) + rule.cfa_offset();
    uintptr_t return_address_at = cfa - sizeof(uintptr_t);
    if (cfa <= sp || !inside(bounds, return_address_at)) return WalkEnd::Done;
    uintptr_t return_address = *reinterpret_cast<const uintptr_t*>(return_address_at);
    switch (rule.rbp()) {
      case FrameRule::CallerRbp::Unchanged: break;
      case FrameRule::CallerRbp::AtCfaOffset: {
        uintptr_t saved_at = cfa - uintptr_t{rule.rbp_distance()} * 8;
        if (!inside(bounds, saved_at)) return WalkEnd::Done;
        fp = *reinterpret_cast<const uintptr_t*>(saved_at);
        fp_known = true;
        break;
      }
      case FrameRule::CallerRbp::Lost: fp_known = false; break;
    }
    sp = cfa;
    if (return_address == 0) return WalkEnd::Done;
    if (!skip_leading || !skip_leading(reinterpret_cast<const void*>(return_address))) {
      skip_leading = nullptr;
      if (depth == capacity) return WalkEnd::Done;
      frames[depth++] = return_address;
    }
    lookup = return_address - 1;  // the call instruction: a return address may start the next function
  }
}

}  // namespace

__attribute__((noinline)) int cfi_backtrace(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading) {
  uintptr_t pc, sp, fp;
  // This frame's registers, read together, so that the rule at `pc` is the
  // one that describes `sp` and `fp`.
  asm volatile(
      "lea 0(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "mov %%rbp, %2"
      : "=r"(pc), "=r"(sp), "=r"(fp));
  int depth = 0;
  if (walk(pc, sp, fp, frames, capacity, skip_leading, depth) == WalkEnd::Done) return depth;
  g_fallbacks.fetch_add(1, std::memory_order_relaxed);
  depth = unwind_with_libgcc(frames, capacity, skip_leading, 1);
  asm volatile("" ::: "memory");  // no tail call, as in libgcc_backtrace
  return depth;
}

#else  // not x86-64: the rules above are x86-64's

__attribute__((noinline)) int cfi_backtrace(uintptr_t* frames, int capacity, LeadingFrameFilter skip_leading) {
  g_fallbacks.fetch_add(1, std::memory_order_relaxed);
  int depth = unwind_with_libgcc(frames, capacity, skip_leading, 1);
  asm volatile("" ::: "memory");
  return depth;
}

#endif

}  // namespace oomtrace::interpose::stacks
