// The real messages of tests/fixtures/oom-messages, read and explained.
#pragma once

#include <string>
#include <vector>

#include "report/messages/explain.h"
#include "report/messages/message.h"

namespace oomtrace::test {

// The text of the fixture whose file name starts with `number` ("04").
std::string fixture_text(const std::string& number);

std::vector<report::messages::ParsedMessage> parse_fixture(const std::string& number);
// The explanation `oomtrace explain` gives; the test fails if there is none.
report::messages::Explanation explain_fixture(const std::string& number);

// A figure by name; 0 and a failed check when the message lacks it.
uint64_t figure(const report::messages::ParsedMessage& message, const std::string& name);
std::string detail(const report::messages::ParsedMessage& message, const std::string& name);
bool has_suggestion(const report::FailureReport& failure, const std::string& setting_part);

}  // namespace oomtrace::test
