// Text made safe for an HTML page: everything a trace holds (paths, stacks,
// messages, argv) goes through escape_html before it reaches the page.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace oomtrace::report::html {

// &, <, >, " and ' as entities; control characters other than tab and
// newline dropped (a binary name in a stack must not break the page).
std::string escape_html(std::string_view text);

// A number for an SVG coordinate: at most two decimals, no exponent.
std::string svg_number(double value);

// "1.234 s" from nanoseconds.
std::string format_seconds(uint64_t time_ns);
// A time on an axis that spans span_ns, in the unit that suits the span:
// "12 s", "1.25 s", "3.4 ms", "250 us".
std::string format_axis_time(uint64_t time_ns, uint64_t span_ns);

}  // namespace oomtrace::report::html
