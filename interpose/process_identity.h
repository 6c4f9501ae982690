// Who the traced process is: names the files and heads the trace.
#pragma once

#include <string>

#include "trace/format.h"

namespace oomtrace::interpose {

// gethostname(), made safe for a file name.
std::string host_name();
trace::ProcessInfo describe_this_process();

}  // namespace oomtrace::interpose
