// A progress bar on standard error for reading, merging and rendering that
// take a while. It stays silent when stderr is not a terminal (logs and
// pipes get no control characters) and during the first second, so quick
// commands print nothing extra.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "trace/reader.h"

namespace oomtrace::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // finish()
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // May be called as often as one likes; draws at most ten times a second.
  void update(uint64_t done, uint64_t total);
  // A step whose progress is not counted (analysing, rendering): its name
  // replaces the bar, drawn under the same rules.
  void stage(std::string label);
  void set_label(std::string label);
  // Clears the bar, if one was drawn, so the next line starts clean.
  void finish();

  // The line as drawn for a given state (total 0: a stage, no bar); for tests.
  static std::string render(const std::string& label, uint64_t done, uint64_t total, int width);

 private:
  using Clock = std::chrono::steady_clock;
  void draw(uint64_t done, uint64_t total);

  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point started_;
  Clock::time_point last_draw_;
};

// trace::read_trace with the bar following the bytes read; on failure the
// bar is cleared, so the caller's error line starts clean.
trace::ReadResult read_trace_showing_progress(const std::string& path, ProgressBar& progress);

}  // namespace oomtrace::cli
