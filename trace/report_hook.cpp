#include "trace/report_hook.h"

#include <atomic>

namespace oomtrace::trace {
namespace {
std::atomic<ReportWriter> registered_writer{nullptr};
}

void set_report_writer(ReportWriter writer) { registered_writer.store(writer); }
ReportWriter report_writer() { return registered_writer.load(); }

}  // namespace oomtrace::trace
