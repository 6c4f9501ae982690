// `oomtrace explain`: the diagnosis of a pasted out-of-memory message, the
// same verdict, explanation and suggestions a trace's report gives, from
// the message alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "report/messages/message.h"
#include "report/verdicts/report.h"

namespace oomtrace::report::messages {

inline constexpr char kNotRecognised[] =
    "not recognised as an out-of-memory message from PyTorch, TensorFlow, JAX or CuPy";

struct Explanation {
  ParsedMessage message;   // the one explained: the last in the input
  FailureReport failure;   // judged: verdict, explanation, suggestions
  std::vector<std::string> notes;
  std::vector<ParsedMessage> earlier;  // the input's other messages, in order
};

// nullopt when the text holds no out-of-memory message explain recognises:
// it never guesses.
std::optional<Explanation> explain_message(std::string_view text);

// Like the failure section of the text report: headline, figures, Verdict,
// Why, Try.
std::string render_explanation_text(const Explanation& explanation);

// One object: the fields of a report's failures[] entry (null where the
// message does not say) plus recognised, framework, variant, the message's
// other figures and the number of messages in the input.
std::string render_explanation_json(const Explanation& explanation);
std::string render_not_recognised_json();

}  // namespace oomtrace::report::messages
