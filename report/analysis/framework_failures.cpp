#include "report/analysis/framework_failures.h"

#include <algorithm>
#include <tuple>

#include "report/messages/message.h"
#include "report/messages/message_failure.h"

namespace oomtrace::report {
namespace {

// The figures that identify one failure, whichever hook reported it.
auto identity(const FailureReport& f) {
  return std::make_tuple(f.device, f.requested_bytes, f.device_total_bytes, f.device_free_bytes,
                         f.process_reserved_bytes, f.process_allocated_bytes);
}

}  // namespace

std::vector<FailureReport> framework_failures(const trace::Trace& trace) {
  std::vector<FailureReport> failures;
  for (const trace::FrameworkError& error : trace.framework_errors) {
    std::optional<messages::ParsedMessage> parsed = messages::parse_oom_message(error.message);
    if (!parsed) continue;
    FailureReport failure = messages::failure_from_message(*parsed).failure;
    failure.time_ns = error.time_ns;
    failure.thread = error.thread;
    if (!failure.framework && !error.framework.empty()) failure.framework = error.framework;
    bool seen = std::any_of(failures.begin(), failures.end(),
                            [&](const FailureReport& other) { return identity(other) == identity(failure); });
    if (!seen) failures.push_back(std::move(failure));
  }
  return failures;
}

}  // namespace oomtrace::report
