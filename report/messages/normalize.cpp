#include "report/messages/normalize.h"

#include <array>
#include <cctype>
#include <regex>

namespace oomtrace::report::messages {
namespace {

// Prefixes are short; matching only a line's head keeps the regex engine
// (which recurses per character) away from megabyte-long lines.
constexpr size_t kPrefixWindow = 256;
constexpr int kMaxPrefixes = 4;

struct Entity {
  std::string_view name;
  char value;
};

constexpr std::array<Entity, 7> kEntities = {{
    {"&gt;", '>'}, {"&lt;", '<'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''},
    {"&apos;", '\''},
}};

std::string decode_entities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    bool decoded = false;
    if (text[i] == '&') {
      for (const Entity& entity : kEntities) {
        if (text.substr(i, entity.name.size()) == entity.name) {
          out += entity.value;
          i += entity.name.size() - 1;
          decoded = true;
          break;
        }
      }
    }
    if (!decoded) out += text[i];
  }
  return out;
}

// Removes ESC [ ... letter sequences (colours), turns tabs into spaces and
// drops carriage returns.
std::string plain(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
      continue;
    }
    if (c == '\r') continue;
    out += c == '\t' ? ' ' : c;
  }
  return out;
}

const std::vector<std::regex>& prefix_patterns() {
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> list;
    for (const char* pattern : {
             R"(\[rank\d+\]:\s?)",
             R"(\([A-Za-z_][\w.-]*(?: [\w.=-]+)* pid=\d+\)\s+)",
             R"([\w.-]+\s+\| )",
             R"((?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \[?[\w./-]+:\d+\] ?)",
             R"((?:DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]*:)",
             R"((?:\d{4}-\d\d-\d\d[ T])?\d{1,2}:\d\d:\d\d\.\d+: [IWEF] [^\]\s]+:\d+\] ?)",
             R"([IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]\s]+:\d+\] ?)",
             R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z )",
         }) {
      list.emplace_back(pattern, std::regex::ECMAScript | std::regex::optimize);
    }
    return list;
  }();
  return patterns;
}

size_t prefix_length(const std::string& line) {
  std::string head = line.substr(0, kPrefixWindow);
  for (const std::regex& pattern : prefix_patterns()) {
    std::smatch match;
    if (std::regex_search(head, match, pattern, std::regex_constants::match_continuous) && match.length(0) > 0) {
      return static_cast<size_t>(match.length(0));
    }
  }
  return 0;
}

std::string without_prefixes(std::string line) {
  for (int i = 0; i < kMaxPrefixes; ++i) {
    size_t length = prefix_length(line);
    if (length == 0) break;
    line.erase(0, length);
  }
  return line;
}

}  // namespace

std::vector<std::string> normalized_lines(std::string_view text) {
  std::string decoded = decode_entities(text);
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin <= decoded.size()) {
    size_t end = decoded.find('\n', begin);
    if (end == std::string::npos) end = decoded.size();
    lines.push_back(without_prefixes(plain(std::string_view(decoded).substr(begin, end - begin))));
    begin = end + 1;
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();
  return lines;
}

std::string join_wrapped(const std::vector<std::string>& lines, size_t first, size_t count) {
  if (count == 0) return {};
  bool cut_by_terminal = count > 1;
  for (size_t i = first; i + 1 < first + count; ++i) {
    cut_by_terminal = cut_by_terminal && lines[i].size() == lines[first].size();
  }
  std::string joined = lines[first];
  for (size_t i = first + 1; i < first + count; ++i) joined += (cut_by_terminal ? "" : " ") + lines[i];
  return joined;
}

std::string collapse_spaces(std::string_view text) {
  std::string out;
  for (char c : trim(text)) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  return out;
}

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(' ');
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(' ');
  return text.substr(begin, end - begin + 1);
}

}  // namespace oomtrace::report::messages
