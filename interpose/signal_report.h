// A process that dies of a signal (SIGTERM from a scheduler, SIGINT, abort()
// from an uncaught exception, a crash) still gets its report. The handler
// does only async-signal-safe work: it closes the trace (when no other
// thread holds the recorder) and execs `oomtrace report --write TRACE` in a
// child, which reads the trace and writes the report files; then the signal
// takes its default course. Handlers are installed only for signals the
// program left at their default action: a program's own handler is never
// replaced (it will exit normally, and the exit path writes the report).
#pragma once

#include <string>

namespace oomtrace::interpose {

void arm_signal_report(const std::string& cli_path, const std::string& trace_path);
void disarm_signal_report();
// What the handler does after the trailer: `oomtrace report --write TRACE`
// in a child process, waited for. For an exit that may not allocate or wait
// for a lock (exit() from a signal handler that interrupted a hook).
void write_report_out_of_process();
// "signal SIGTERM", for the trailer; a static string.
const char* signal_exit_reason(int signal_number);

}  // namespace oomtrace::interpose
