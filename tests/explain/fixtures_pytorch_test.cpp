// PyTorch's messages from tests/fixtures/oom-messages (INDEX.md lists the
// figures each must yield): every figure is checked to the byte as parsed,
// then the framework and the verdict those figures support.
//
// Byte counts are the printed value times its binary unit, rounded to the
// nearest byte: "11.93 GiB" is 11.93 * 2^30 = 12809739960.
#include <catch2/catch.hpp>

#include "fixture_support.h"
#include "report/verdicts/verdict.h"

using namespace oomtrace;
using namespace oomtrace::test;
using report::Verdict;
using report::messages::ParsedMessage;
using Catch::Contains;

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

uint64_t unallocated(const ParsedMessage& m) { return figure(m, "reserved_unallocated"); }

}  // namespace

TEST_CASE("01: cached era, a request larger than the device", "[fixtures][pytorch]") {
  auto e = explain_fixture("01");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch");
  CHECK(m.variant == "pytorch-cached");
  CHECK(m.requested_bytes == 16 * kGiB);
  CHECK(m.device == 0);
  CHECK(m.total_bytes == 12809739960u);
  CHECK(m.allocated_bytes == 4 * kGiB);
  CHECK(m.free_bytes == 7870527570u);
  CHECK(figure(m, "cached") == 183296u);
  CHECK(e.failure.verdict == Verdict::ExceedsCapacity);
  CHECK_THAT(e.failure.explanation, Contains("16.00 GiB") && Contains("11.93 GiB"));
}

TEST_CASE("02: cached era, 9.28 GiB free for a 12.50 MiB request: no verdict", "[fixtures][pytorch]") {
  // The device had room: nothing in the figures shows why it failed (the
  // thread reached no diagnosis either).
  auto e = explain_fixture("02");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 13107200u);
  CHECK(m.device == 0);
  CHECK(m.total_bytes == 11725260718u);
  CHECK(m.allocated_bytes == 8986296u);
  CHECK(m.free_bytes == 9964324127u);
  CHECK(figure(m, "cached") == 4907336u);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("9.28 GiB free") && Contains("not full"));
}

TEST_CASE("03: cached era, room on the device: no verdict, host memory named", "[fixtures][pytorch]") {
  // The reporter later found host RAM full; the explanation names the host.
  auto e = explain_fixture("03");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 50 * kMiB);
  CHECK(m.total_bytes == 6 * kGiB);
  CHECK(m.allocated_bytes == 727481057u);
  CHECK(m.free_bytes == 4198330532u);
  CHECK(figure(m, "cached") == 19105055u);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("host memory"));
}

TEST_CASE("04: six logged messages, each read, the last explained", "[fixtures][pytorch]") {
  std::vector<ParsedMessage> all = parse_fixture("04");
  REQUIRE(all.size() == 6);
  CHECK(all[0].requested_bytes == 1846835937u);
  CHECK(all[0].total_bytes == 11553462026u);
  CHECK(all[0].allocated_bytes == 4305704714u);
  CHECK(all[0].free_bytes == 373293056u);
  CHECK(figure(all[0], "cached") == 5948529705u);
  CHECK(all[1].requested_bytes == 1803886264u);
  CHECK(all[1].allocated_bytes == 6066641306u);
  CHECK(figure(all[1], "cached") == 4187593114u);
  CHECK(all[2].requested_bytes == all[0].requested_bytes);  // line 3 repeats line 1
  CHECK(all[3].requested_bytes == 1760936591u);
  CHECK(all[3].allocated_bytes == 5980741960u);
  CHECK(figure(all[3], "cached") == 4273492460u);
  CHECK(all[4].requested_bytes == 1739461755u);
  CHECK(all[4].allocated_bytes == 5916317450u);
  CHECK(figure(all[4], "cached") == 4327179551u);
  CHECK(all[5].requested_bytes == 1814623683u);
  CHECK(all[5].allocated_bytes == 6088116142u);
  CHECK(figure(all[5], "cached") == 4166118277u);
  for (const ParsedMessage& m : all) CHECK(m.framework == "pytorch");

  // 3.88 GiB free in the cache, none of it in a 1.69 GiB piece, and only
  // 356 MiB free on the device for a new segment.
  auto e = explain_fixture("04");
  CHECK(e.message.line == 5);
  CHECK(e.earlier.size() == 5);
  CHECK(e.failure.verdict == Verdict::Fragmentation);
  CHECK(has_suggestion(e.failure, "expandable_segments:True"));
  CHECK(has_suggestion(e.failure, "max_split_size_mb:1024"));
  CHECK(has_suggestion(e.failure, "upgrade PyTorch"));  // the cached era predates both settings
}

TEST_CASE("05: reserved era, a 48 GiB cuDNN workspace on a 15.78 GiB device", "[fixtures][pytorch]") {
  auto e = explain_fixture("05");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-reserved");
  CHECK(m.requested_bytes == 51550344970u);
  CHECK(m.total_bytes == 16943645983u);
  CHECK(m.allocated_bytes == 4 * kGiB);
  CHECK(m.free_bytes == 11542724608u);
  CHECK(m.reserved_bytes == 4 * kGiB);
  CHECK(e.failure.verdict == Verdict::ExceedsCapacity);
}

TEST_CASE("07: reserved era, 0 bytes free: exhausted, the context's share named", "[fixtures][pytorch]") {
  // The thread: about 1 GB was the CUDA context's. The request is PyTorch's
  // 2 MiB small-pool segment, so the 80 MiB cached figure (both pools)
  // proves no fragmentation.
  auto e = explain_fixture("07");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 2 * kMiB);
  CHECK(m.total_bytes == 6 * kGiB);
  CHECK(m.allocated_bytes == 5239860101u);
  CHECK(m.free_bytes == 0u);
  CHECK(m.reserved_bytes == 5325759447u);
  CHECK(e.failure.verdict == Verdict::Exhausted);
  CHECK_THAT(e.failure.explanation, Contains("CUDA context"));
}

TEST_CASE("08: reserved era with hint, 46.9 GiB held outside: other processes", "[fixtures][pytorch]") {
  // The reporter fixed it by leaving GPU 0 (CUDA_VISIBLE_DEVICES=1,2,3,4).
  auto e = explain_fixture("08");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 2 * kMiB);
  CHECK(m.total_bytes == 51045686313u);
  CHECK(m.allocated_bytes == 203895603u);
  CHECK(m.free_bytes == 5117051u);
  CHECK(m.reserved_bytes == 686 * kMiB);
  CHECK(e.failure.verdict == Verdict::OtherProcesses);
  CHECK(e.failure.other_bytes > 46 * kGiB);
  CHECK(has_suggestion(e.failure, "CUDA_VISIBLE_DEVICES"));
}

TEST_CASE("10: terminal-wrapped, held more than the device: fragmentation, figures flagged", "[fixtures][pytorch]") {
  auto e = explain_fixture("10");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 2265595249u);
  CHECK(m.total_bytes == 8 * kGiB);
  CHECK(m.allocated_bytes == 21303037788u);
  CHECK(m.free_bytes == 0u);
  CHECK(m.reserved_bytes == 23901493002u);  // "22.26 GiB" ends one wrapped line
  // 2.42 GiB cached but unallocated, no 2.11 GiB piece, nothing free.
  CHECK(e.failure.verdict == Verdict::Fragmentation);
  REQUIRE(e.notes.size() == 1);
  CHECK_THAT(e.notes[0], Contains("inconsistent") && Contains("22.26 GiB"));
}

TEST_CASE("11: HTML-escaped hint, 572.50 MiB free for 258 MiB: no verdict", "[fixtures][pytorch]") {
  // The maintainer called it a typical OOM; the figures show a device with
  // room, read after the failure, so they do not decide.
  auto e = explain_fixture("11");
  const ParsedMessage& m = e.message;
  CHECK_THAT(m.text, Contains("is >> allocated"));
  CHECK(m.requested_bytes == 258 * kMiB);
  CHECK(m.total_bytes == 25275882537u);
  CHECK(m.allocated_bytes == 12616466432u);
  CHECK(m.free_bytes == 600309760u);
  CHECK(m.reserved_bytes == 13314398618u);
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("12: XPU refuses one block over 4GB: limit", "[fixtures][pytorch]") {
  auto e = explain_fixture("12");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch-xpu");
  CHECK(m.requested_bytes == 8181912699u);
  CHECK(m.device == 0);  // "GPU  0"
  CHECK(m.total_bytes == 16224238961u);
  CHECK(m.allocated_bytes == 351052759u);
  CHECK(m.reserved_bytes == 497025024u);
  CHECK_FALSE(m.free_bytes);
  REQUIRE(e.failure.cap);
  CHECK(e.failure.cap->kind == report::CapKind::PlatformBlockLimit);
  CHECK(e.failure.verdict == Verdict::Limit);
  CHECK(has_suggestion(e.failure, "split the request"));
}

TEST_CASE("13: capacty era, wrapped by hand: fragmentation", "[fixtures][pytorch]") {
  auto e = explain_fixture("13");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-capacty");
  CHECK(m.requested_bytes == 138 * kMiB);
  CHECK(m.device == 0);
  CHECK(m.total_bytes == 17072495002u);
  CHECK(m.free_bytes == 8849981u);
  REQUIRE(m.processes.size() == 1);
  CHECK(m.processes[0].pid == 1246069u);
  CHECK(m.processes[0].bytes == 577 * kMiB);
  CHECK(m.this_process_bytes == 16449724744u);
  CHECK(m.allocated_bytes == 15161234555u);
  CHECK(unallocated(m) == 430346076u);
  // 410 MiB free in the cache, no 138 MiB piece, 8.44 MiB free on the device.
  CHECK(e.failure.verdict == Verdict::Fragmentation);
  CHECK(has_suggestion(e.failure, "max_split_size_mb:128"));
}

TEST_CASE("15: capacty era without process clauses: fragmentation", "[fixtures][pytorch]") {
  auto e = explain_fixture("15");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 1825361101u);
  CHECK(m.total_bytes == 6 * kGiB);
  CHECK(m.free_bytes == 0u);
  CHECK(m.allocated_bytes == 3146063544u);
  CHECK(unallocated(m) == 2469606195u);
  CHECK(m.processes.empty());
  CHECK_FALSE(m.this_process_bytes);
  CHECK_FALSE(e.failure.nvml_known);
  CHECK(e.failure.verdict == Verdict::Fragmentation);
}

TEST_CASE("16: a memory fraction the 2.1 message does not print: no verdict, the fraction named",
          "[fixtures][pytorch]") {
  // The issue: set_per_process_memory_fraction(0.5) on an 80 GB A100. With
  // 38.09 GiB free the device was not full; without the cap in the message
  // no verdict is proven, but the fraction is what the explanation and the
  // suggestions point to.
  auto e = explain_fixture("16");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 64 * kMiB);
  CHECK(m.total_bytes == 84986665370u);
  CHECK(m.free_bytes == 40898826076u);
  CHECK(m.this_process_bytes == 44087839293u);
  CHECK(m.allocated_bytes == 41983305318u);
  CHECK(unallocated(m) == 448224297u);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("set_per_process_memory_fraction"));
  CHECK(has_suggestion(e.failure, "set_per_process_memory_fraction"));
}

TEST_CASE("17: allocated more than the device: exhausted, figures flagged", "[fixtures][pytorch]") {
  // The maintainer: a smaller batch size.
  auto e = explain_fixture("17");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 64 * kMiB);
  CHECK(m.total_bytes == 8 * kGiB);
  CHECK(m.free_bytes == 0u);
  CHECK(m.allocated_bytes == 24094766531u);
  CHECK(unallocated(m) == 3313500u);
  CHECK(e.failure.verdict == Verdict::Exhausted);
  CHECK(e.failure.other_bytes == 0u);  // clamped: the figures cannot give a negative
  CHECK(has_suggestion(e.failure, "reduce the batch size"));
  REQUIRE_FALSE(e.notes.empty());
  CHECK_THAT(e.notes[0], Contains("inconsistent"));
}

TEST_CASE("19: current era: 195 MiB cached, no 22 MiB piece: fragmentation", "[fixtures][pytorch]") {
  auto e = explain_fixture("19");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-capacity");
  CHECK(m.requested_bytes == 22 * kMiB);
  CHECK(m.total_bytes == 25393994138u);
  CHECK(m.free_bytes == 11597251u);
  CHECK(m.this_process_bytes == 25340307046u);
  CHECK(m.allocated_bytes == 24588687770u);
  CHECK(unallocated(m) == 204336005u);
  CHECK(e.failure.nvml_known);
  CHECK(e.failure.verdict == Verdict::Fragmentation);
}

TEST_CASE("20: [rank0], four other ranks' contexts on GPU 0: exhausted, the ranks named",
          "[fixtures][pytorch]") {
  auto e = explain_fixture("20");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 572 * kMiB);
  CHECK(m.total_bytes == 42402064630u);
  CHECK(m.free_bytes == 336917955u);
  REQUIRE(m.processes.size() == 4);
  CHECK(m.processes[0].pid == 3721648u);  // listed before "this process"
  CHECK(m.processes[1].pid == 1374765u);
  CHECK(m.processes[2].pid == 1374763u);
  CHECK(m.processes[3].pid == 1374764u);
  for (const auto& process : m.processes) CHECK(process.bytes == 414 * kMiB);
  CHECK(m.this_process_bytes == 40222368727u);
  CHECK(m.allocated_bytes == 38697655337u);
  CHECK(unallocated(m) == 336980869u);
  CHECK(e.failure.verdict == Verdict::Exhausted);
  CHECK(has_suggestion(e.failure, "torch.cuda.set_device(local_rank)"));
  CHECK(has_suggestion(e.failure, "stop the other processes"));
}

TEST_CASE("21: NVML sees 0 bytes for this process: PyTorch's figure used, exhausted", "[fixtures][pytorch]") {
  auto e = explain_fixture("21");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 896 * kMiB);
  CHECK(m.total_bytes == 23611582710u);
  CHECK(m.free_bytes == 796267643u);
  CHECK(m.this_process_bytes == 0u);
  CHECK(m.allocated_bytes == 22033182228u);
  CHECK(unallocated(m) == 107038638u);
  CHECK(e.failure.verdict == Verdict::Exhausted);
  REQUIRE(e.notes.size() == 1);
  CHECK_THAT(e.notes[0], Contains("NVML counted 0 bytes"));
  // The batch cut is measured against what PyTorch had allocated.
  REQUIRE(has_suggestion(e.failure, "reduce the batch size"));
  CHECK_THAT(e.failure.suggestions[0].reason, Contains("live memory is 20.52 GiB") && Contains("at least 1%"));
}

TEST_CASE("23: the only listed process is this one under another PID: fragmentation", "[fixtures][pytorch]") {
  auto e = explain_fixture("23");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 38225208934u);
  CHECK(m.total_bytes == 85179938898u);
  CHECK(m.free_bytes == 28089086116u);
  REQUIRE(m.processes.size() == 1);
  CHECK(m.processes[0].pid == 76883u);
  CHECK(m.processes[0].bytes == 57080115364u);
  CHECK(m.allocated_bytes == 12852689633u);
  CHECK(unallocated(m) == 43690554819u);
  CHECK(e.failure.other_processes.empty());
  CHECK(e.failure.other_bytes < 64 * kMiB);
  CHECK(e.failure.verdict == Verdict::Fragmentation);
}

TEST_CASE("24: vLLM log prefix on every line: exhausted", "[fixtures][pytorch]") {
  // 1.17 GiB free against 1.16 GiB asked: within the driver's slack, full.
  auto e = explain_fixture("24");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 1245540516u);
  CHECK(m.total_bytes == 8321499136u);
  CHECK(m.free_bytes == 1256277934u);
  CHECK(m.this_process_bytes == 5390183956u);
  CHECK(m.allocated_bytes == 5164698173u);
  CHECK(unallocated(m) == 19891487u);
  CHECK(parse_fixture("24").size() == 1);
  CHECK(e.failure.verdict == Verdict::Exhausted);
}

TEST_CASE("25: app prefix, 2.86 GiB free for 98 MiB: no verdict, a fraction named", "[fixtures][pytorch]") {
  // The reporter's plugin gives each worker a 0.1 share of the GPU; the
  // message prints no cap, so no verdict, and the fraction is suggested.
  auto e = explain_fixture("25");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 98 * kMiB);
  CHECK(m.total_bytes == 4 * kGiB);
  CHECK(m.free_bytes == 3070901617u);
  CHECK(m.allocated_bytes == 266852106u);
  CHECK(unallocated(m) == 102246646u);
  CHECK_FALSE(e.failure.verdict);
  CHECK(has_suggestion(e.failure, "set_per_process_memory_fraction"));
}

TEST_CASE("26: cut after \"GPU\": the request only, no verdict", "[fixtures][pytorch]") {
  auto e = explain_fixture("26");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-truncated");
  CHECK(m.requested_bytes == 3999999679529u);
  CHECK_FALSE(m.total_bytes);
  CHECK_FALSE(m.free_bytes);
  CHECK_FALSE(e.failure.verdict);
  CHECK_THAT(e.failure.explanation, Contains("cut short"));
}

TEST_CASE("27: ROCm, 16 GiB asked of a 15.24 GiB device: exceeds capacity", "[fixtures][pytorch]") {
  // The thread: the GTT window (about 16 GB) was the device's memory.
  auto e = explain_fixture("27");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch-rocm");
  CHECK(m.requested_bytes == 16 * kGiB);
  CHECK(m.total_bytes == 16363825398u);
  CHECK(m.free_bytes == 16202764124u);
  CHECK(m.allocated_bytes == 0u);
  CHECK(unallocated(m) == 0u);
  CHECK(e.failure.verdict == Verdict::ExceedsCapacity);
}

TEST_CASE("28: ROCm with \"1.05 GiB allowed\" and private pools: limit", "[fixtures][pytorch]") {
  // The thread: a per-process cap was in effect during the test run.
  auto e = explain_fixture("28");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch-rocm");
  CHECK(m.requested_bytes == 2 * kMiB);
  CHECK(m.total_bytes == 25136296100u);
  CHECK(m.free_bytes == 22784801505u);
  REQUIRE(m.cap);
  CHECK(m.cap->bytes == 1127428915u);
  CHECK(m.allocated_bytes == 1066412278u);
  CHECK(figure(m, "private_pools") == 17 * kMiB);
  CHECK(unallocated(m) == 57661194u);
  CHECK(e.failure.verdict == Verdict::Limit);
  CHECK(has_suggestion(e.failure, "torch.cuda.set_per_process_memory_fraction(0.05)"));
  CHECK(has_suggestion(e.failure, "garbage_collection_threshold"));  // it acts under a fraction
}

TEST_CASE("29: ROCm GPU 7 with 203 GiB free: no verdict", "[fixtures][pytorch]") {
  auto e = explain_fixture("29");
  const ParsedMessage& m = e.message;
  CHECK(m.device == 7);
  CHECK(m.requested_bytes == 2 * kMiB);
  CHECK(m.total_bytes == 309216170476u);
  CHECK(m.free_bytes == 218495723766u);
  CHECK(m.allocated_bytes == 73690901381u);
  CHECK(unallocated(m) == 16030965432u);
  CHECK_FALSE(e.failure.verdict);
  CHECK(e.failure.device == 7);
}

TEST_CASE("30: ROCm inside vLLM, 18.55 GiB free for 12.95 GiB: no verdict", "[fixtures][pytorch]") {
  auto e = explain_fixture("30");
  const ParsedMessage& m = e.message;
  CHECK(m.framework == "pytorch-rocm");
  CHECK(m.requested_bytes == 13904956621u);
  CHECK(m.total_bytes == 136365211648u);
  CHECK(m.free_bytes == 19917910835u);
  CHECK(m.allocated_bytes == 106697725051u);
  CHECK(unallocated(m) == 127716557u);
  CHECK_FALSE(e.failure.verdict);
}

TEST_CASE("32: cudaMallocAsync backend after an app prefix: exhausted, no cap", "[fixtures][pytorch]") {
  auto e = explain_fixture("32");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-async");
  CHECK(m.allocated_bytes == 14753212662u);
  CHECK(m.requested_bytes == 640 * kMiB);
  CHECK(m.total_bytes == 15837691904u);
  CHECK(m.free_bytes == 28374467u);
  // 17179869184.00 GiB is 2^64 bytes, PyTorch's "no fraction set": it
  // saturates, and is no cap.
  CHECK(figure(m, "pytorch_limit") == UINT64_MAX);
  CHECK_FALSE(m.cap);
  CHECK(e.failure.verdict == Verdict::Exhausted);
  CHECK_FALSE(has_suggestion(e.failure, "expandable_segments"));  // not for this backend
}

TEST_CASE("33: more than 1EB, with C++ frames: exceeds capacity", "[fixtures][pytorch]") {
  // The PR: sizes near 2^64 come from a wrapped negative size.
  auto e = explain_fixture("33");
  const ParsedMessage& m = e.message;
  CHECK(m.variant == "pytorch-1eb");
  CHECK(m.requested_bytes == 1ull << 60);
  CHECK(m.requested_at_least);
  CHECK(m.stack.size() == 6);
  CHECK_THAT(detail(m, "location"), Contains("CUDACachingAllocator.cpp:1316"));
  CHECK(e.failure.verdict == Verdict::ExceedsCapacity);
  CHECK(has_suggestion(e.failure, "check how the size is computed"));
}

TEST_CASE("63: ROCm, free more than total: exceeds capacity, figures flagged", "[fixtures][pytorch]") {
  auto e = explain_fixture("63");
  const ParsedMessage& m = e.message;
  CHECK(m.requested_bytes == 16 * kGiB);
  CHECK(m.total_bytes == 16632260854u);
  CHECK(m.free_bytes == 91246580204u);
  CHECK(m.allocated_bytes == 1793148846u);
  CHECK(unallocated(m) == 8675833938u);
  CHECK(e.failure.verdict == Verdict::ExceedsCapacity);
  CHECK(e.failure.other_bytes == 0u);
  REQUIRE_FALSE(e.notes.empty());
  CHECK_THAT(e.notes[0], Contains("84.98 GiB free is more than"));
}
