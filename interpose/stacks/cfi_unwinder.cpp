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

// A packed rule: bits 0-1 kind (0 step, 1 outermost, 2 unsupported), 2 CFA
// from rbp, 3-4 the caller's rbp rule, 5-20 the epoch,
// 21-31 where rbp was saved (-offset / 8), 32-63 the CFA offset. The epoch
// is never 0, so neither is a word: 0 stands for "no rule".
constexpr uint64_t kKindStep = 0, kKindOutermost = 1, kKindUnsupported = 2;  // a step tests as zero

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

// The rule in `slot` if it is `key`'s, of this epoch; else 0.
__attribute__((always_inline)) inline uint64_t rule_in_slot(const Slot& slot, uintptr_t key, uint32_t epoch) {
  uint64_t rule = slot.rule.load(std::memory_order_acquire);
  if (slot.key.load(std::memory_order_relaxed) != key) return 0;  // taken over meanwhile
  return Packed{rule}.epoch() == epoch ? rule : 0;
}

// The probes after the first: rare with a table this sparse.
__attribute__((noinline)) uint64_t probe_further(uintptr_t key, uint32_t epoch) {
  uint64_t home = slot_of(key);
  for (int probe = 1; probe < kMaxProbes; ++probe) {
    const Slot& slot = g_slots[(home + probe) & kSlotMask];
    uintptr_t found = slot.key.load(std::memory_order_acquire);
    if (found == 0) return 0;
    if (found == key) return rule_in_slot(slot, key, epoch);
  }
  return 0;
}

// 0 when `key` has no rule of this epoch. The first probe is inline: it is
// the hot path of every frame.
__attribute__((always_inline)) inline uint64_t cached_rule(uintptr_t key, uint32_t epoch) {
  const Slot& slot = g_slots[slot_of(key)];
  uintptr_t found = slot.key.load(std::memory_order_acquire);
  if (__builtin_expect(found == key, 1)) return rule_in_slot(slot, key, epoch);
  return found == 0 ? 0 : probe_further(key, epoch);
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
    // current again, so empty the table. A walk racing with this sees a
    // miss it did not need, or a key stored twice; a reader re-checks the
    // key after the rule, so never another key's rule.
    for (Slot& slot : g_slots) {
      slot.rule.store(0, std::memory_order_relaxed);
      slot.key.store(0, std::memory_order_release);
    }
    next = 1;
  }
  g_epoch.store(next, std::memory_order_release);
  return next;
}

// Out of line: the slow path stays out of the walk's loop.
__attribute__((noinline)) uint64_t compute_rule(uintptr_t address) {
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

// Where a walk stands: the registers of the frame reached so far.
struct Cursor {
  uintptr_t sp;
  uintptr_t fp;
  bool fp_known;
  uintptr_t lookup;          // the frame's pc, or its return address - 1
  uintptr_t return_address;  // the last one read
};

enum class Step { Next, Done, NeedsLibgcc };

// One frame up. Reads the stack only inside `bounds`: the CFA must lie
// above the current sp (sp itself inside the bounds: checked at the start)
// and no higher than the stack's top, so the return address just below it
// is inside; a saved rbp is read only at or above the stack's bottom.
// Not instrumented, as capture_frame_pointer_stack: a sanitizer's redzones
// on the stack are legitimate places for a saved register to be read from.
OOMTRACE_NOT_SANITIZED __attribute__((always_inline)) inline Step step(Cursor& at, const StackBounds& bounds,
                                                                        uint32_t epoch) {
  uint64_t word = cached_rule(at.lookup, epoch);
  if (__builtin_expect(word == 0, 0)) word = compute_rule(at.lookup);
  Packed rule{word};
  if (__builtin_expect(rule.kind() != kKindStep, 0)) {
    return rule.kind() == kKindOutermost ? Step::Done : Step::NeedsLibgcc;
  }
  uintptr_t base = at.sp;
  if (rule.cfa_from_rbp()) {
    if (!at.fp_known) return Step::NeedsLibgcc;
    base = at.fp;
  }
  uintptr_t cfa = base + rule.cfa_offset();
  if (cfa < at.sp + sizeof(uintptr_t) || cfa > bounds.high) return Step::Done;
  uintptr_t return_address = reinterpret_cast<const uintptr_t*>(cfa)[-1];
  FrameRule::CallerRbp rbp = rule.rbp();
  if (rbp == FrameRule::CallerRbp::AtCfaOffset) {
    uintptr_t saved_at = cfa - uintptr_t{rule.rbp_distance()} * sizeof(uintptr_t);
    if (saved_at < bounds.low) return Step::Done;
    at.fp = *reinterpret_cast<const uintptr_t*>(saved_at);
    at.fp_known = true;
  } else if (rbp == FrameRule::CallerRbp::Lost) {
    at.fp_known = false;
  }
  at.sp = cfa;
  if (return_address == 0) return Step::Done;
  at.return_address = return_address;
  at.lookup = return_address - 1;  // the call instruction: a return address may start the next function
  return Step::Next;
}

enum class WalkEnd { Done, NeedsLibgcc };

// The innermost frames `skip_leading` names first, without recording them;
// then every frame, with nothing but the step in the loop.
OOMTRACE_NOT_SANITIZED __attribute__((always_inline)) inline WalkEnd walk(Cursor at, uintptr_t* frames, int capacity,
                                                                           LeadingFrameFilter skip_leading,
                                                                           int& depth) {
  StackBounds bounds = this_thread_stack();
  if (bounds.high == 0 || at.sp < bounds.low || at.sp >= bounds.high) return WalkEnd::NeedsLibgcc;  // a signal stack
  uint32_t epoch = g_epoch.load(std::memory_order_acquire);
  if (epoch == 0) __builtin_unreachable();  // lets the compiler drop a test per frame
  Step result;
  do {
    result = step(at, bounds, epoch);
  } while (result == Step::Next && skip_leading && skip_leading(reinterpret_cast<const void*>(at.return_address)));
  uintptr_t* next = frames;
  uintptr_t* const end = frames + (capacity > 0 ? capacity : 0);
  while (result == Step::Next && next != end) {
    *next++ = at.return_address;
    result = step(at, bounds, epoch);
  }
  depth = static_cast<int>(next - frames);
  return result == Step::NeedsLibgcc ? WalkEnd::NeedsLibgcc : WalkEnd::Done;
}

}  // namespace

// Not instrumented: the walk is inlined here, and it reads the stack where
// a sanitizer would object (see step()).
__attribute__((noinline)) OOMTRACE_NOT_SANITIZED int cfi_backtrace(uintptr_t* frames, int capacity,
                                                                   LeadingFrameFilter skip_leading) {
  uintptr_t pc, sp, fp;
  // This frame's registers, read together, so that the rule at `pc` is the
  // one that describes `sp` and `fp`.
  asm volatile(
      "lea 0(%%rip), %0\n\t"
      "mov %%rsp, %1\n\t"
      "mov %%rbp, %2"
      : "=r"(pc), "=r"(sp), "=r"(fp));
  int depth = 0;
  Cursor start{sp, fp, true, pc, 0};
  if (walk(start, frames, capacity, skip_leading, depth) == WalkEnd::Done) return depth;
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
