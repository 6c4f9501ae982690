// libFuzzer target: any bytes given to the trace reader, and any trace it
// accepts given to the analysis and both renderers, must end in a report or
// a one-line error: no crash, no hang, bounded memory.
#include <cstddef>
#include <cstdint>

#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "report/render/text_report.h"
#include "trace/reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  oomtrace::trace::ReadResult result = oomtrace::trace::parse_trace(data, size, "fuzz.trace");
  if (!result.trace) return 0;
  oomtrace::report::Report report = oomtrace::report::analyze(*result.trace);
  std::string json = oomtrace::report::render_json(report);
  std::string text = oomtrace::report::render_text(report);
  return json.empty() || text.empty() ? 0 : 0;
}
