#include "cli/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace oomtrace::cli {
namespace {

constexpr auto kQuietStart = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

int terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

// OOMTRACE_PROGRESS=0 silences the bar; =1 draws it even on a non-terminal
// (the test suite uses that to see it).
bool wanted_on_stderr() {
  const char* setting = std::getenv("OOMTRACE_PROGRESS");
  if (setting && *setting == '0') return false;
  if (setting && *setting == '1') return true;
  return ::isatty(STDERR_FILENO) == 1;
}

}  // namespace

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(wanted_on_stderr()), started_(Clock::now()), last_draw_(started_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set_label(std::string label) { label_ = std::move(label); }

std::string ProgressBar::render(const std::string& label, uint64_t done, uint64_t total, int width) {
  if (total == 0) {
    std::string line = label + " ...";
    if (static_cast<int>(line.size()) > width - 1) line.resize(std::max(0, width - 1));
    return line;
  }
  done = std::min(done, total);
  unsigned percent = static_cast<unsigned>(done * 100 / total);
  std::string tail = " " + std::to_string(percent) + "% " + label;
  // "[####    ]" takes what the label leaves, at least 10 columns.
  int bar_width = std::max(10, std::min(40, width - 3 - static_cast<int>(tail.size())));
  int filled = static_cast<int>(done * static_cast<uint64_t>(bar_width) / total);
  std::string line = "[" + std::string(filled, '#') + std::string(bar_width - filled, ' ') + "]" + tail;
  if (static_cast<int>(line.size()) > width - 1) line.resize(std::max(0, width - 1));
  return line;
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  Clock::time_point now = Clock::now();
  if (now - started_ < kQuietStart) return;
  if (drawn_ && now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  draw(done, total);
}

void ProgressBar::stage(std::string label) {
  label_ = std::move(label);
  // A new stage is news: drawn now rather than after the redraw interval.
  last_draw_ = Clock::time_point();
  update(0, 0);
}

void ProgressBar::draw(uint64_t done, uint64_t total) {
  std::string line = "\r" + render(label_, done, total, terminal_width()) + "\x1b[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

trace::ReadResult read_trace_showing_progress(const std::string& path, ProgressBar& progress) {
  trace::ReadResult read =
      trace::read_trace(path, [&progress](uint64_t done, uint64_t total) { progress.update(done, total); });
  if (!read.trace) progress.finish();
  return read;
}

}  // namespace oomtrace::cli
