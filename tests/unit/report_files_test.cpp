// The report files beside a trace: written whole, never over an existing
// file, never through a planted symlink, never throwing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/common/exclusive_file.h"
#include "report/render/report_files.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using Catch::Contains;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string write_small_trace(const TempDir& dir) {
  std::string path = dir.file("oomtrace.testhost.55.trace");
  TraceBuilder builder;
  builder.process(55).device(0, 8 * GiB).alloc(0, 0x1000, GiB).finish();
  builder.write(path);
  return path;
}

}  // namespace

TEST_CASE("report files are named after the trace", "[files]") {
  report::ReportPaths paths = report::report_paths("/d/oomtrace.h.1.trace");
  CHECK(paths.json == "/d/oomtrace.h.1.report.json");
  CHECK(paths.text == "/d/oomtrace.h.1.report.txt");
  CHECK(report::report_paths("/d/other").json == "/d/other.report.json");
}

TEST_CASE("write_report_files writes both reports, private to the user", "[files]") {
  TempDir dir;
  std::string trace_path = write_small_trace(dir);
  std::string error;
  REQUIRE(report::write_report_files(trace_path, &error));
  report::ReportPaths paths = report::report_paths(trace_path);
  CHECK_THAT(slurp(paths.json), Contains("\"schema\": \"oomtrace-report/1\""));
  CHECK_THAT(slurp(paths.text), Contains("Full report: oomtrace report --format json"));
  struct stat info{};
  REQUIRE(::stat(paths.json.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);

  SECTION("a second run refuses to overwrite") {
    CHECK_FALSE(report::write_report_files(trace_path, &error));
    CHECK_THAT(error, Contains("already exists") && Contains(".report.json"));
  }
}

TEST_CASE("a planted symlink is not followed", "[files]") {
  TempDir dir;
  std::string trace_path = write_small_trace(dir);
  std::string victim = dir.file("victim");
  { std::ofstream(victim) << "precious"; }
  report::ReportPaths paths = report::report_paths(trace_path);
  REQUIRE(::symlink(victim.c_str(), paths.text.c_str()) == 0);

  std::string error;
  CHECK_FALSE(report::write_report_files(trace_path, &error));
  CHECK_THAT(error, Contains(paths.text));
  CHECK(slurp(victim) == "precious");
  // The JSON half of the pair is taken back so a later attempt can succeed.
  CHECK_FALSE(std::filesystem::exists(paths.json));
}

TEST_CASE("bad input is an error, never an exception", "[files]") {
  TempDir dir;
  std::string error;
  CHECK_FALSE(report::write_report_files(dir.file("missing.trace"), &error));
  CHECK_THAT(error, Contains("cannot open"));
  CHECK_FALSE(report::write_report_files(dir.path(), &error));
  CHECK_THAT(error, Contains("not a regular file"));
  CHECK_FALSE(report::write_report_files(dir.file("missing.trace"), nullptr));
}

TEST_CASE("a write that cannot finish is reported and leaves no partial file", "[files]") {
  // A file-size limit makes write() fail part way, as a full disk would,
  // without needing one. SIGXFSZ is ignored so the write returns EFBIG.
  TempDir dir;
  std::string path = dir.file("big.report.json");
  struct rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string error;
  bool written = report::write_exclusive_file(path, std::string(64 * 1024, 'x'), &error);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);

  CHECK_FALSE(written);
  CHECK_THAT(error, Contains("cannot write " + path));
  CHECK_FALSE(std::filesystem::exists(path));
}
