// Linked only into liboomtrace.so: hands the report writer to the trace
// layer, whose exit path writes the reports. interpose/ never includes
// report/, so this registration is the only link between them.
#include <string>

#include "report/render/report_files.h"
#include "trace/report_hook.h"

namespace {

bool write_reports_for_library(const std::string& trace_path, std::string* error) {
  // write_report_files is noexcept already; the guard keeps this adapter
  // safe even if that ever changes, because an exception here would unwind
  // into the host program's exit path.
  try {
    return oomtrace::report::write_report_files(trace_path, error);
  } catch (...) {
    return false;
  }
}

[[maybe_unused]] const bool registered = [] {
  try {
    oomtrace::trace::set_report_writer(&write_reports_for_library);
    return true;
  } catch (...) {
    return false;
  }
}();

}  // namespace
