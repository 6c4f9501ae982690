// The library's own messages to stderr, through spdlog (compiled in, hidden).
// The host program's output is not ours: we say as little as possible, and
// each kind of problem at most once per process.
#pragma once

#include <string>
#include <vector>

namespace oomtrace::interpose {

enum class Warning {
  Config,
  CannotCreateTrace,
  TraceWriteFailed,
  MissingRealFunction,
  ReportFailed,
  Count
};

void warn_once(Warning kind, const std::string& message);
// Several messages of one kind (each bad variable): all of them, once.
void warn_all_once(Warning kind, const std::vector<std::string>& messages);
void inform(const std::string& message);
// After fork: the child may warn again about its own files.
void reset_warnings_after_fork();

}  // namespace oomtrace::interpose
