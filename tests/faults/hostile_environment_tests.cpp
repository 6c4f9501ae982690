// What a hostile or careless environment cannot do to a preloaded program:
// a symlink planted where the trace will be written, nonsense in the
// library's environment variables, a program called `oomtrace` in the
// current folder or on PATH. docs/reliability.md, "Hostile input".
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>

#include "fault_harness.h"

using namespace faults;

namespace {

unsigned permissions_of(const fs::path& path) {
  struct stat info{};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  return info.st_mode & 07777;
}

}  // namespace

TEST_CASE("a symlink planted at the trace's path is not followed; files are private") {
  fs::path victim_dir = fresh_dir("victim");
  fs::path victim = victim_dir / "precious.txt";
  std::ofstream(victim) << "keep me\n";
  RunResult result = run({program(), "plant_symlink", victim.string()});
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(read_file(victim) == "keep me\n");
  // The planted name is skipped; the trace takes the next free one.
  std::vector<fs::path> names = result.files(".trace");
  REQUIRE(names.size() == 2);
  fs::path trace = fs::is_symlink(names[0]) ? names[1] : names[0];
  CHECK(fs::is_symlink(fs::is_symlink(names[0]) ? names[0] : names[1]));
  CHECK(trace.filename().string().find(".1.trace") != std::string::npos);
  CHECK(permissions_of(trace) == 0600);
  CHECK(permissions_of(result.only(".report.json")) == 0600);
  CHECK(permissions_of(result.only(".report.txt")) == 0600);
  nlohmann::json report = report_of(trace);
  CHECK(report["totals"]["allocations"] == 3);
}

TEST_CASE("nonsense in the library's variables: one warning each, defaults, the program runs on") {
  fs::path cwd = fresh_dir("cwd");
  Options options;
  options.working_dir = cwd;
  options.output_dir = cwd / "does-not-exist";
  options.env = {{"OOMTRACE_STACKS", "maybe"},
                 {"OOMTRACE_QUIET", "2"},
                 {"OOMTRACE_FOLLOW_EXEC", "sometimes"},
                 {"OOMTRACE_CLI", (cwd / "no-such-program").string()}};
  RunResult result = run({program(), "allocate", "3"}, options);
  INFO("stderr: " << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "allocated 4\n");
  CHECK_THAT(result.err, Catch::Contains("OOMTRACE_STACKS=maybe is not 0, 1, cfi, dwarf or fp; using 1"));
  CHECK_THAT(result.err, Catch::Contains("OOMTRACE_QUIET=2 is not 0 or 1; using 0"));
  CHECK_THAT(result.err, Catch::Contains("OOMTRACE_FOLLOW_EXEC=sometimes is not 0 or 1; using 0"));
  CHECK_THAT(result.err, Catch::Contains("is not an executable"));
  CHECK_THAT(result.err, Catch::Contains("is not an existing folder; writing to the current folder"));
  // Each warning once, however many calls the program made.
  CHECK(result.err.find("OOMTRACE_STACKS=maybe") == result.err.rfind("OOMTRACE_STACKS=maybe"));
  int traces = 0;
  for (const auto& entry : fs::directory_iterator(cwd)) {
    traces += entry.path().extension() == ".trace" ? 1 : 0;
  }
  CHECK(traces == 1);
}

TEST_CASE("no oomtrace beside the library and none named: nothing runs from the current folder or PATH") {
  // A program that would prove it ran, in the current folder and on PATH.
  fs::path cwd = fresh_dir("cwd");
  fs::path marker = cwd / "impostor-ran";
  {
    std::ofstream script(cwd / "oomtrace");
    script << "#!/bin/sh\ntouch '" << marker.string() << "'\n";
  }
  fs::permissions(cwd / "oomtrace", fs::perms::owner_all);
  Options options;
  options.working_dir = cwd;
  options.name_cli = false;
  options.preload = {library_copy()};  // a folder with no oomtrace in it
  const char* path = std::getenv("PATH");
  options.env = {{"PATH", cwd.string() + ":.:" + (path ? path : "/usr/bin")}};
  RunResult result = run({program(), "segv"}, options);
  INFO("stderr: " << result.err);
  REQUIRE(result.signal == SIGSEGV);
  CHECK_FALSE(fs::exists(marker));
  CHECK_THAT(result.err, Catch::Contains("read it with: oomtrace report"));
  CHECK(result.files(".report.json").empty());
  nlohmann::json report = report_of(result.only(".trace"));
  CHECK(report["totals"]["failed_allocations"] == 1);
}
