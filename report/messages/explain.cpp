#include "report/messages/explain.h"

#include <algorithm>

#include "report/messages/message_advice.h"
#include "report/messages/message_failure.h"
#include "report/verdicts/verdict.h"

namespace oomtrace::report::messages {
namespace {

void append_new(std::vector<Suggestion>& suggestions, const std::vector<Suggestion>& more) {
  for (const Suggestion& suggestion : more) {
    bool known = std::any_of(suggestions.begin(), suggestions.end(),
                             [&](const Suggestion& s) { return s.setting == suggestion.setting; });
    if (!known) suggestions.push_back(suggestion);
  }
}

}  // namespace

std::optional<Explanation> explain_message(std::string_view text) {
  std::vector<ParsedMessage> found = parse_oom_messages(text);
  if (found.empty()) return std::nullopt;
  Explanation explanation;
  explanation.message = std::move(found.back());
  found.pop_back();
  explanation.earlier = std::move(found);

  MessageFailure mapped = failure_from_message(explanation.message);
  FailureReport& failure = mapped.failure;
  judge(failure, settings_from_message(explanation.message));
  bool figures_known = failure.device_total_bytes && failure.device_free_bytes;
  if (!failure.verdict) {
    failure.explanation = figures_known ? failure.explanation + explain_room_hint(explanation.message, failure)
                                        : explain_missing(explanation.message, failure);
  }
  append_new(failure.suggestions, message_suggestions(explanation.message, failure));
  explanation.failure = std::move(failure);
  explanation.notes = std::move(mapped.notes);
  return explanation;
}

}  // namespace oomtrace::report::messages
