// The fixed parts of the HTML report: its style sheet and its script.
#pragma once

namespace oomtrace::report::html {

extern const char kStyle[];
// Records script errors into <html data-script-errors>, opens a failure's
// section when its mark on the timeline is clicked, and writes what the
// page holds into <pre id="render-summary"> (JSON) for tests and tools.
extern const char kScript[];

}  // namespace oomtrace::report::html
