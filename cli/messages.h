// How the CLI talks back: one line per error, and exit codes scripts can
// rely on.
#pragma once

#include <string>

namespace oomtrace::cli {

inline constexpr int kExitBadInput = 1;  // unreadable file, not a trace, ...
inline constexpr int kExitUsage = 2;     // unknown flag, missing argument
inline constexpr int kExitCannotExecute = 126;  // as a shell does
inline constexpr int kExitCommandNotFound = 127;

// Writes "oomtrace: error: <message>" as a single line on stderr.
void print_error(const std::string& message);
// The same with "oomtrace: " only, for notes that are not failures.
void print_note(const std::string& message);

}  // namespace oomtrace::cli
