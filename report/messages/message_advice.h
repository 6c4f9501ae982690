// What explain says beyond the shared verdict: why a message allows no
// verdict, in its own terms, and the suggestions only its framework's
// message supports (vLLM's model length, llama.cpp's layers, ...).
#pragma once

#include <string>
#include <vector>

#include "report/messages/message.h"
#include "report/verdicts/report.h"

namespace oomtrace::report::messages {

// For a failure without a verdict whose device figures are missing: what
// the message does give and what it lacks.
std::string explain_missing(const ParsedMessage& message, const FailureReport& failure);

// For a failure without a verdict although the device had room: what the
// message's era adds (PyTorch 2.1 did not print a memory fraction's cap).
// Empty when nothing.
std::string explain_room_hint(const ParsedMessage& message, const FailureReport& failure);

// Suggestions from the message itself, to follow the verdict's own.
std::vector<Suggestion> message_suggestions(const ParsedMessage& message, const FailureReport& failure);

}  // namespace oomtrace::report::messages
