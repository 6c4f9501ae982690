#include "cli/run_results.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <sys/stat.h>

#include "cli/messages.h"
#include "report/analysis/analysis.h"
#include "report/render/report_files.h"
#include "report/render/text_report.h"
#include "trace/reader.h"

namespace oomtrace::cli {
namespace {

constexpr std::string_view kPrefix = "oomtrace.";
constexpr std::string_view kSuffix = ".trace";

// "oomtrace.<host>.<pid>.trace", or "oomtrace.<host>.<pid>.<n>.trace" when
// the library met an older trace of a recycled pid. Hosts may hold dots and
// digits, so the name is only matched; the pid comes from the trace itself.
bool is_trace_name(std::string_view name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return false;
  std::string_view middle = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  size_t dot = middle.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == middle.size()) return false;
  std::string_view digits = middle.substr(dot + 1);
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool not_before(const timespec& a, const timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec >= b.tv_nsec;
}

bool still_running(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

std::string note_line(const std::string& message) { return "oomtrace: " + message + "\n"; }

// What to say about one trace: its text report when there is news (a
// failure, a kill), else one line.
std::string describe(const std::string& trace_path) {
  trace::ReadResult read = trace::read_trace(trace_path);
  if (!read.trace) return note_line("cannot read " + trace_path + ": " + read.error);
  std::optional<pid_t> pid;
  if (read.trace->process) pid = static_cast<pid_t>(read.trace->process->pid);
  if (!read.trace->trailer && pid && *pid > 0 && still_running(*pid)) {
    // A descendant that outlived the command: its library writes the report
    // when it exits.
    return note_line(trace_path + " — process " + std::to_string(*pid) +
                     " is still running; its report is written when it exits");
  }
  report::Report report = report::analyze(*read.trace);
  if (!read.trace->trailer) {
    // Killed before its library could write the report: write it now so it
    // sits beside the trace like any other (ignored if one already exists).
    std::string ignored;
    report::write_report_files(trace_path, &ignored);
  }
  if (!report.failures.empty() || !report.trace.complete) return report::render_text(report);
  return note_line(report.trace.path + " — no out-of-memory failure (" + std::to_string(report.totals.allocations) +
                   " allocations); full report: oomtrace report " + report.trace.path);
}

bool is_block(const std::string& text) { return std::count(text.begin(), text.end(), '\n') > 1; }

}  // namespace

timespec file_clock_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return now;
}

std::vector<std::string> traces_written_since(const std::string& dir, const timespec& since) {
  std::vector<std::pair<timespec, std::string>> found;
  try {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::string name = entry.path().filename().string();
      if (!is_trace_name(name)) continue;
      struct stat info{};
      if (::lstat(entry.path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
      if (!not_before(info.st_mtim, since)) continue;
      found.emplace_back(info.st_mtim, entry.path().string());
    }
  } catch (const std::filesystem::filesystem_error& e) {
    // The command's exit code matters more than our listing: say why, go on.
    print_note("cannot list " + dir + " for traces: " + e.code().message());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first.tv_sec != b.first.tv_sec) return a.first.tv_sec < b.first.tv_sec;
    if (a.first.tv_nsec != b.first.tv_nsec) return a.first.tv_nsec < b.first.tv_nsec;
    return a.second < b.second;
  });
  std::vector<std::string> traces;
  for (auto& [time, path] : found) traces.push_back(std::move(path));
  return traces;
}

void tell_run_results(const std::vector<std::string>& traces) {
  bool printed = false;
  for (const std::string& trace_path : traces) {
    std::string text;
    try {
      text = describe(trace_path);
    } catch (const std::exception& e) {
      // The command's exit code must still come back to the caller.
      text = note_line("cannot explain " + trace_path + ": " + e.what());
    }
    // A blank line sets each full report apart from what came before.
    if (printed && is_block(text)) text.insert(text.begin(), '\n');
    std::fputs(text.c_str(), stderr);
    printed = true;
  }
}

}  // namespace oomtrace::cli
