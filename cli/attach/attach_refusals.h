// Why `oomtrace attach` or `detach` will not touch a process, decided from
// /proc before anything is done to it, so a refusal leaves the process
// exactly as it was. Each answer is one line that says what is wrong and
// how to get past it.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>

namespace oomtrace::cli {

// nullopt: go ahead.
std::optional<std::string> refuse_attach(pid_t pid);
std::optional<std::string> refuse_detach(pid_t pid);

// ptrace itself said no although the checks passed (a capability the
// container dropped, a seccomp filter on this command, an LSM): the line
// that names the likely cause.
std::string explain_ptrace_failure(pid_t pid, int errno_value);

}  // namespace oomtrace::cli
