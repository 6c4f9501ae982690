// After `oomtrace run`: find the traces the command and its descendants
// wrote, and tell the user what they say.
#pragma once

#include <ctime>
#include <string>
#include <vector>

namespace oomtrace::cli {

// A time comparable with file modification times: the kernel stamps files
// with its coarse clock, so a fine clock read just before could be later
// than the stamp of a file created just after.
timespec file_clock_now();

// oomtrace.<host>[.rank<R>].<pid>.trace files in dir modified at or after since,
// oldest first.
std::vector<std::string> traces_written_since(const std::string& dir, const timespec& since);

// Prints, on stderr, the text report of each trace with an out-of-memory
// failure or a killed process, and one line for each other trace.
// To stderr, or to output_path (-o) when one is given, with one note on
// stderr saying where.
void tell_run_results(const std::vector<std::string>& traces, const std::string& output_path = "");

}  // namespace oomtrace::cli
