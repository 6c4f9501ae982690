#include "cli/run_results.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <climits>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "interpose/distributed_rank.h"
#include "report/analysis/analysis.h"
#include "report/render/report_files.h"
#include "report/render/text_report.h"
#include "report/symbols/dwarf_symbolizer.h"
#include "trace/reader.h"

namespace oomtrace::cli {
namespace {

constexpr std::string_view kPrefix = "oomtrace.";
constexpr std::string_view kSuffix = ".trace";

// "oomtrace.<host>.<pid>.trace", "oomtrace.<host>.rank<R>.<pid>.trace" in a
// distributed job, and either with ".<n>" before ".trace" when the library
// met an older trace of a recycled pid. Hosts may hold dots and digits, so
// the name is only matched; the pid and rank come from the trace itself.
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

// R from ".rank<R>." in oomtrace.<host>.rank<R>.<pid>.trace; the last such
// segment, since a host name may hold one too.
std::optional<uint32_t> rank_in_name(const std::string& trace_path) {
  std::string name = std::filesystem::path(trace_path).filename().string();
  constexpr std::string_view kMarker = ".rank";
  for (size_t at = name.rfind(kMarker); at != std::string::npos && at > 0; at = name.rfind(kMarker, at - 1)) {
    size_t digits = at + kMarker.size();
    size_t end = name.find_first_not_of("0123456789", digits);
    if (end == digits || end == std::string::npos || name[end] != '.' || end - digits > 9) continue;
    return static_cast<uint32_t>(std::stoul(name.substr(digits, end - digits)));
  }
  return std::nullopt;
}

// gethostname() as the library puts it in the trace.
std::string this_host() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  std::replace_if(host.begin(), host.end(), [](char c) { return c == '/' || c == '\\' || c == ' '; }, '_');
  return host;
}

// Ranks of a distributed job often each run under their own `oomtrace run`
// with one shared --dir (srun oomtrace run --dir /shared -- ...): a trace of
// another rank, or of another host, belongs to another run, which reports it.
// The command's descendants inherit its rank, so a different one is not ours.
// The name tells the rank before the process record is written (a trace
// just created), which a report written then would lack for good.
bool written_by_another_run(const std::string& trace_path, const std::optional<trace::ProcessInfo>& process) {
  static const std::optional<uint32_t> own_rank = interpose::read_distributed_rank().rank;
  static const std::string own_host = this_host();
  if (process && !process->host.empty() && process->host != own_host) return true;
  std::optional<uint32_t> rank = process && process->rank ? process->rank : rank_in_name(trace_path);
  return rank && own_rank && *rank != *own_rank;
}

// What to say about one trace: its text report when there is news (a
// failure, a kill), else one line; nothing for another run's trace.
std::string describe(const std::string& trace_path) {
  // Before reading: another rank's trace may be so new it has no header yet.
  if (written_by_another_run(trace_path, std::nullopt)) return {};
  trace::ReadResult read = trace::read_trace(trace_path);
  if (!read.trace) return note_line("cannot read " + trace_path + ": " + read.error);
  if (written_by_another_run(trace_path, read.trace->process)) return {};
  std::optional<pid_t> pid;
  if (read.trace->process) pid = static_cast<pid_t>(read.trace->process->pid);
  if (!read.trace->trailer && pid && *pid > 0 && still_running(*pid)) {
    // A descendant that outlived the command: its library writes the report
    // when it exits.
    return note_line(trace_path + " — process " + std::to_string(*pid) +
                     " is still running; its report is written when it exits");
  }
  // Symbolized here, not in the library: the program has exited.
  std::unique_ptr<report::FrameSymbolizer> symbolizer = report::make_dwarf_symbolizer({});
  report::Report report = report::analyze(*read.trace, symbolizer.get());
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

void tell_run_results(const std::vector<std::string>& traces, const std::string& output_path) {
  bool printed = false;
  std::string all;
  for (const std::string& trace_path : traces) {
    std::string text;
    try {
      text = describe(trace_path);
    } catch (const std::exception& e) {
      // The command's exit code must still come back to the caller.
      text = note_line("cannot explain " + trace_path + ": " + e.what());
    }
    if (text.empty()) continue;
    // A blank line sets each full report apart from what came before.
    if (printed && is_block(text)) text.insert(text.begin(), '\n');
    if (output_path.empty()) {
      std::fputs(text.c_str(), stderr);
    } else {
      all += text;
    }
    printed = true;
  }
  if (output_path.empty()) return;
  if (!printed) all = note_line("no trace was written");
  if (write_command_output(all, output_path)) print_note("report of the run: " + output_path);
}

}  // namespace oomtrace::cli
