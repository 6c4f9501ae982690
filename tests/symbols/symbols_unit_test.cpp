// Native frames as function, file and line: the Module record through the
// real writer and reader, the lines a symbolized stack reads as, the
// folding of the libraries' frames in the text report, and finding a
// module's file by build-id.
#include <catch2/catch.hpp>

#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "report/analysis/analysis.h"
#include "report/analysis/stack_text.h"
#include "report/render/stack_folding.h"
#include "report/render/text_report.h"
#include "report/symbols/dwarf_symbolizer.h"
#include "report/symbols/module_files.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;

namespace {

trace::ModuleInfo program_module() {
  trace::ModuleInfo module;
  module.path = "/opt/app/bin/trainer";
  module.load_bias = 0x555500000000;
  module.start = 0x555500000000;
  module.end = 0x555500004000;
  module.build_id = std::string("\x01\x23\x45\x67\x89\xab\xcd\xef\x00\x10", 10);
  return module;
}

// Answers from a table, as a real symbolizer would from DWARF, and counts
// how often it was asked.
class TableSymbolizer : public report::FrameSymbolizer {
 public:
  std::map<uint64_t, std::vector<report::SourceFrame>> table;
  std::vector<std::string> asked_modules;

  std::vector<report::SourceFrame> symbolize(const trace::ModuleInfo& module, uint64_t address) override {
    asked_modules.push_back(module.path);
    auto found = table.find(address);
    return found == table.end() ? std::vector<report::SourceFrame>{} : found->second;
  }
  std::vector<std::string> problems() const override { return {"skipped /opt/app/lib/libold.so: a test"}; }
};

std::string self_path() {
  char path[4096];
  ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string();
}

}  // namespace

TEST_CASE("the Module record goes through the writer and the reader", "[symbols]") {
  TempDir dir;
  std::string path = dir.file("modules.trace");
  trace::TraceWriter writer;
  REQUIRE(writer.create(path));
  trace::ModuleInfo program = program_module();
  trace::ModuleInfo vdso;
  vdso.path = "linux-vdso.so.1";
  vdso.start = 0x7fff0000;
  vdso.end = 0x7fff2000;
  writer.write_module(program);
  writer.write_module(vdso);
  writer.write_frame({1, 0x555500001234, "./trainer", "", 0x1234});
  writer.finish({0, 1, "exit"});

  trace::ReadResult read = trace::read_trace(path);
  REQUIRE(read.trace);
  CHECK(read.trace->format_minor == trace::kFormatMinor);
  REQUIRE(read.trace->modules.size() == 2);
  const trace::ModuleInfo& back = read.trace->modules[0];
  CHECK(back.path == program.path);
  CHECK(back.load_bias == program.load_bias);
  CHECK(back.start == program.start);
  CHECK(back.end == program.end);
  CHECK(back.build_id == program.build_id);  // raw bytes, a zero byte included
  CHECK(read.trace->modules[1].path == "linux-vdso.so.1");
  CHECK(read.trace->modules[1].build_id.empty());
  CHECK(read.trace->frames.at(1).address == 0x555500001234);
}

TEST_CASE("a Module record cut short is refused as corrupt", "[symbols]") {
  std::vector<uint8_t> bytes(trace::kMagic, trace::kMagic + 8);
  bytes.insert(bytes.end(), {1, 0, 4, 0, 0, 0, 0, 0});
  // Module: a path of 9 bytes claimed, 2 present.
  bytes.insert(bytes.end(), {static_cast<uint8_t>(trace::RecordType::Module), 3, 9, 'a', 'b'});
  trace::ReadResult result = trace::parse_trace(bytes.data(), bytes.size(), "short.trace");
  CHECK_FALSE(result.trace);
  CHECK_THAT(result.error, Catch::Contains("shorter than its fields"));
}

TEST_CASE("symbolized frames: source lines, inlined calls, symbol offsets", "[symbols]") {
  trace::Trace trace;
  trace.modules.push_back(program_module());
  trace.frames[1] = {1, 0x555500001234, "./trainer", "", 0x1234};
  trace.frames[2] = {2, 0x555500002000, "./trainer", "", 0x2000};
  trace.frames[3] = {3, 0x7f0000001000, "/lib/libc.so.6", "__libc_start_main", 0x80};  // no module recorded
  trace.stacks[7] = {7, {1, 2, 3}};

  TableSymbolizer symbolizer;
  symbolizer.table[0x555500001234] = {{"grow_buffer", "/src/buffer.h", 12, true, std::nullopt},
                                      {"train_step(int)", "/src/train.cpp", 42, false, std::nullopt}};
  symbolizer.table[0x555500002000] = {{"main", "", 0, false, 0x1f}};

  std::vector<std::string> lines = report::describe_stack(trace, 7, &symbolizer);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "grow_buffer at /src/buffer.h:12 (trainer) [inlined]");
  CHECK(lines[1] == "train_step(int) at /src/train.cpp:42 (trainer)");
  CHECK(lines[2] == "main+0x1f (trainer)");
  CHECK(lines[3] == "__libc_start_main+0x80 (/lib/libc.so.6)");  // as recorded
  // Only frames inside a recorded module are asked about.
  CHECK(symbolizer.asked_modules == std::vector<std::string>{"/opt/app/bin/trainer", "/opt/app/bin/trainer"});

  SECTION("without a symbolizer, frames read as recorded") {
    std::vector<std::string> plain = report::describe_stack(trace, 7);
    REQUIRE(plain.size() == 3);
    CHECK(plain[0] == "0x555500001234 (./trainer+0x1234)");
  }
  SECTION("an address the symbolizer cannot name keeps the recorded text") {
    symbolizer.table.clear();
    CHECK(report::describe_stack(trace, 7, &symbolizer)[0] == "0x555500001234 (./trainer+0x1234)");
  }
}

TEST_CASE("the module a frame line names", "[symbols]") {
  CHECK(report::frame_module_name("cudaMalloc+0x12 (/usr/lib/libcudart.so.13)") == "libcudart.so.13");
  CHECK(report::frame_module_name("0x7f12 (/lib/x86_64-linux-gnu/libc.so.6+0x29d90)") == "libc.so.6");
  CHECK(report::frame_module_name("step(int) at /src/a.cpp:3 (trainer)") == "trainer");
  CHECK(report::frame_module_name("inner at /src/a.h:9 (libfoo.so) [inlined]") == "libfoo.so");
  CHECK(report::frame_module_name("0x7f12") == "");
  CHECK(report::frame_module_name("frame 4 (unresolved)") == "unresolved");
}

TEST_CASE("which modules are plumbing", "[symbols]") {
  for (const char* name : {"libcuda.so.1", "libcudart.so.13", "libcublasLt.so.12", "libcudnn_ops.so.9",
                           "libnccl.so.2", "liboomtrace.so", "libc.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                           "ld-linux-x86-64.so.2", "libpython3.12.so.1.0", "python3.12", "python3"}) {
    INFO(name);
    CHECK(report::is_plumbing_module(name));
  }
  for (const char* name : {"trainer", "libtorch_cuda.so", "libcustom.so", "pythonic_tool", "libcurl.so.4"}) {
    INFO(name);
    CHECK_FALSE(report::is_plumbing_module(name));
  }
}

TEST_CASE("runs of library frames fold into one line", "[symbols]") {
  std::vector<std::string> stack = {
      "cudaMalloc+0x12 (/usr/lib/libcudart.so.13)",
      "0x7f01 (/usr/lib/libcudart.so.13+0x4000)",
      "memcpy+0x3 (/lib/libc.so.6)",
      "grow at /src/a.h:9 (trainer) [inlined]",
      "step at /src/a.cpp:3 (trainer)",
      "__libc_start_call_main+0x7a (libc.so.6)",
      "main at /src/main.cpp:8 (trainer)",
      "__libc_start_call_main+0x7a (libc.so.6)",
      "__libc_start_main+0x85 (libc.so.6)",
      "_PyEval_EvalFrameDefault+0x10 (python3.12)",
  };
  std::vector<std::string> folded = report::fold_plumbing_frames(stack);
  std::vector<std::string> expected = {
      "... 3 frames in libcudart.so.13, libc.so.6",
      "grow at /src/a.h:9 (trainer) [inlined]",
      "step at /src/a.cpp:3 (trainer)",
      "__libc_start_call_main+0x7a (libc.so.6)",  // a run of one stays as it is
      "main at /src/main.cpp:8 (trainer)",
      "... 3 frames in libc.so.6, python3.12",
  };
  CHECK(folded == expected);
  CHECK(report::fold_plumbing_frames({}).empty());
  CHECK(report::first_program_frame(stack) == "grow at /src/a.h:9 (trainer) [inlined]");
  CHECK(report::first_program_frame({stack[0], stack[2]}) == stack[0]);
  CHECK(report::first_program_frame({}).empty());
}

TEST_CASE("the text report folds symbolized stacks only; JSON keeps every frame", "[symbols]") {
  TempDir dir;
  TraceBuilder builder;
  builder.process(42)
      .device(0, 16 * GiB)
      .frame(1, 0x7f0000001000, "/usr/lib/libcudart.so.13", "cudaMalloc", 0x10)
      .frame(2, 0x7f0000002000, "/usr/lib/libcudart.so.13", "", 0x2000)
      .frame(3, 0x400100, "./trainer", "main", 0x20)
      .stack(5, {1, 2, 3});
  FailureSpec failure;
  failure.request = 32 * GiB;
  failure.total = 16 * GiB;
  failure.free = 15 * GiB;
  failure.stack_id = 5;
  builder.fail(failure).finish();
  trace::Trace trace = builder.build(dir.file("fold.trace"));

  report::Report plain = report::analyze(trace);
  std::string plain_text = report::render_text(plain);
  CHECK_THAT(plain_text, Catch::Contains("cudaMalloc+0x10 (/usr/lib/libcudart.so.13)"));
  CHECK_THAT(plain_text, Catch::Contains("File and line of each native frame: oomtrace report"));

  TableSymbolizer symbolizer;  // names nothing: no module recorded
  report::Report symbolized = report::analyze(trace, &symbolizer);
  std::string text = report::render_text(symbolized);
  CHECK_THAT(text, Catch::Contains("... 2 frames in libcudart.so.13"));
  CHECK_THAT(text, Catch::Contains("main+0x20 (./trainer)"));
  CHECK_THAT(text, !Catch::Contains("File and line of each native frame"));
  // The symbolizer's problems become notes.
  CHECK_THAT(text, Catch::Contains("Skipped /opt/app/lib/libold.so: a test."));
  CHECK(symbolized.failures.at(0).stack.size() == 3);  // what JSON renders: unfolded
}

TEST_CASE("a module's file is used only with the recorded build-id", "[symbols]") {
  std::string self = self_path();
  std::optional<std::string> own_id = report::read_build_id(self);
  REQUIRE(own_id);
  REQUIRE_FALSE(own_id->empty());
  CHECK_FALSE(report::read_build_id("/nonexistent/file"));

  trace::ModuleInfo module;
  module.path = self;
  module.build_id = *own_id;
  CHECK(report::find_module_file(module, {}).path == self);

  SECTION("another build-id: skipped, with the reason") {
    module.build_id = std::string("\x12\x34\x56\x78", 4);
    report::ModuleFile file = report::find_module_file(module, {});
    CHECK(file.path.empty());
    CHECK_THAT(file.problem, Catch::Contains("skipped " + self) && Catch::Contains("12345678") &&
                                 Catch::Contains(report::build_id_hex(*own_id)));
  }
  SECTION("moved: found in a debug folder by build-id, or by name") {
    TempDir dir;
    std::string hex = report::build_id_hex(*own_id);
    module.path = "/gone/" + self.substr(self.rfind('/') + 1);
    report::ModuleFile missing = report::find_module_file(module, {dir.path()});
    CHECK(missing.path.empty());
    CHECK_THAT(missing.problem, Catch::Contains("no file for /gone/"));

    std::string by_name = dir.file(self.substr(self.rfind('/') + 1));
    REQUIRE(::symlink(self.c_str(), by_name.c_str()) == 0);
    CHECK(report::find_module_file(module, {dir.path()}).path == by_name);

    std::string id_dir = dir.file(".build-id/" + hex.substr(0, 2));
    std::string by_id = id_dir + "/" + hex.substr(2);
    REQUIRE(::mkdir(dir.file(".build-id").c_str(), 0755) == 0);
    REQUIRE(::mkdir(id_dir.c_str(), 0755) == 0);
    REQUIRE(::symlink(self.c_str(), by_id.c_str()) == 0);
    CHECK(report::find_module_file(module, {dir.path()}).path == by_id);  // build-id first
  }
}

namespace {

// The caller's return address: the instruction after its call here. The
// empty asm keeps the optimizer from taking two calls for one.
__attribute__((noinline)) uintptr_t return_address_of_this_call() {
  asm volatile("" ::: "memory");
  return reinterpret_cast<uintptr_t>(__builtin_return_address(0));
}

// Inlined into its caller whatever the optimization level: the symbolizer
// must give it as a frame of its own, at the line of the call inside it.
uint32_t inlined_call_line = 0;
__attribute__((always_inline)) inline uintptr_t inlined_helper() {
  uintptr_t address = return_address_of_this_call(); inlined_call_line = __LINE__;
  return address;
}

int record_main_program(struct dl_phdr_info* info, size_t, void* data) {
  auto* module = static_cast<trace::ModuleInfo*>(data);
  module->load_bias = info->dlpi_addr;
  module->start = UINT64_MAX;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    module->start = std::min<uint64_t>(module->start, info->dlpi_addr + segment.p_vaddr);
    module->end = std::max<uint64_t>(module->end, info->dlpi_addr + segment.p_vaddr + segment.p_memsz);
  }
  return 1;  // the first object listed is the program
}

}  // namespace

TEST_CASE("the DWARF symbolizer reads a module's own debug information", "[symbols]") {
  // This test executable, built with debug information, as the library
  // would record it.
  trace::ModuleInfo module;
  dl_iterate_phdr(&record_main_program, &module);
  module.path = self_path();
  std::optional<std::string> own_id = report::read_build_id(module.path);
  REQUIRE(own_id);
  module.build_id = *own_id;

  uintptr_t address = return_address_of_this_call(); const uint32_t call_line = __LINE__;
  std::unique_ptr<report::FrameSymbolizer> symbolizer = report::make_dwarf_symbolizer({});
  std::vector<report::SourceFrame> frames = symbolizer->symbolize(module, address);
  REQUIRE_FALSE(frames.empty());
  CHECK_THAT(frames.front().file, Catch::EndsWith("symbols_unit_test.cpp"));
  CHECK(frames.front().line == call_line);
  CHECK_FALSE(frames.back().inlined);
  CHECK(symbolizer->problems().empty());
  // Asked again (a report asks for the same frames many times): the same.
  CHECK(symbolizer->symbolize(module, address).front().line == call_line);

  uintptr_t inlined_address = inlined_helper(); const uint32_t helper_line = __LINE__;
  std::vector<report::SourceFrame> inlined = symbolizer->symbolize(module, inlined_address);
  REQUIRE(inlined.size() >= 2);
  CHECK_THAT(inlined[0].function, Catch::Contains("inlined_helper"));
  CHECK(inlined[0].inlined);
  CHECK(inlined[0].line == inlined_call_line);
  CHECK_FALSE(inlined[1].inlined);
  CHECK(inlined[1].line == helper_line);

  module.build_id = "wrong";
  std::unique_ptr<report::FrameSymbolizer> refusing = report::make_dwarf_symbolizer({});
  CHECK(refusing->symbolize(module, address).empty());
  CHECK(refusing->symbolize(module, address + 16).empty());
  REQUIRE(refusing->problems().size() == 1);  // once per module, not per frame
  CHECK_THAT(refusing->problems()[0], Catch::Contains("skipped"));
}
