#include "fixture_support.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace oomtrace::test {

std::string fixture_text(const std::string& number) {
  for (const auto& entry : std::filesystem::directory_iterator(OOMTRACE_OOM_FIXTURES)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(number + "_", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  FAIL("no fixture " << number << " in " << OOMTRACE_OOM_FIXTURES);
  return {};
}

std::vector<report::messages::ParsedMessage> parse_fixture(const std::string& number) {
  return report::messages::parse_oom_messages(fixture_text(number));
}

report::messages::Explanation explain_fixture(const std::string& number) {
  auto explanation = report::messages::explain_message(fixture_text(number));
  REQUIRE(explanation);
  return *explanation;
}

uint64_t figure(const report::messages::ParsedMessage& message, const std::string& name) {
  auto found = message.figures.find(name);
  INFO("figure " << name);
  REQUIRE(found != message.figures.end());
  return found->second;
}

std::string detail(const report::messages::ParsedMessage& message, const std::string& name) {
  auto found = message.details.find(name);
  INFO("detail " << name);
  REQUIRE(found != message.details.end());
  return found->second;
}

bool has_suggestion(const report::FailureReport& failure, const std::string& setting_part) {
  for (const report::Suggestion& s : failure.suggestions) {
    if (s.setting.find(setting_part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace oomtrace::test
