// Pasted text made readable for the parsers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oomtrace::report::messages {

// One entry per line, with HTML entities decoded (issue trackers store ">>"
// as "&gt;&gt;"), terminal colours and carriage returns removed, tabs made
// spaces, and the log prefixes that launchers put before each line removed:
// "[rank0]: ", vLLM's "ERROR 03-13 09:00:43 [core.py:330] " and
// "(VllmWorker rank=3 pid=1090) ", Python logging's "WARNING:root:",
// TensorFlow's "2019-07-21 23:26:35.082216: E file.cc:828] ", glog's,
// docker compose's "vllm-1  | " and CI timestamps. Prefixes an application
// writes in its own words stay: the parsers find the message inside a line.
std::vector<std::string> normalized_lines(std::string_view text);

// Lines of one message that a terminal or a person wrapped, joined back:
// with nothing between them when every line but the last has the same
// length (a terminal cut them, even mid-word), else with a space.
std::string join_wrapped(const std::vector<std::string>& lines, size_t first, size_t count);

// Runs of spaces made one, ends trimmed.
std::string collapse_spaces(std::string_view text);

std::string_view trim(std::string_view text);

}  // namespace oomtrace::report::messages
