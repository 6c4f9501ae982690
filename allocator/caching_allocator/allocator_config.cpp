#include "allocator/caching_allocator/allocator_config.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <vector>

#include "allocator/decimal_from_chars.h"

namespace oomtrace::caching {
namespace {

// PyTorch's lexer: ',', ':', '[' and ']' are tokens of their own, spaces
// vanish, everything else runs together.
std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ':' || c == '[' || c == ']') {
      flush();
      tokens.emplace_back(1, c);
    } else if (c != ' ') {
      word.push_back(c);
    }
  }
  flush();
  return tokens;
}

struct ParseError {
  std::string message;
};

// Walks the tokens; every read yields what was expected or throws a
// ParseError that says what was wrong where.
class TokenCursor {
 public:
  explicit TokenCursor(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

  bool done() const { return next_ >= tokens_.size(); }
  bool next_is(const char* token) const { return !done() && tokens_[next_] == token; }
  std::string take(const std::string& what) {
    if (done()) throw ParseError{"expected " + what + " at the end"};
    return tokens_[next_++];
  }
  void expect(const char* token, const std::string& after) {
    if (next_is(token)) {
      ++next_;
      return;
    }
    std::string found = done() ? "the end" : "'" + tokens_[next_] + "'";
    throw ParseError{"expected '" + std::string(token) + "' after " + after + ", found " + found};
  }
  // The value of `key:value`.
  std::string value_of(const std::string& key) {
    expect(":", key);
    std::string value = take("a value for " + key);
    if (value.size() == 1 && std::string_view(",:[]").find(value[0]) != std::string_view::npos) {
      throw ParseError{"expected a value for " + key + ", found '" + value + "'"};
    }
    return value;
  }

 private:
  std::vector<std::string> tokens_;
  size_t next_ = 0;
};

uint64_t whole_number(const std::string& text, const std::string& key) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw ParseError{key + ": '" + text + "' is not a whole number"};
  }
  return value;
}

double real_number(const std::string& text, const std::string& key) {
  double value = 0;
  auto [end, error] = decimal_from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw ParseError{key + ": '" + text + "' is not a number"};
  }
  return value;
}

bool true_or_false(const std::string& text, const std::string& key) {
  if (text == "True") return true;  // PyTorch accepts exactly these two spellings
  if (text == "False") return false;
  throw ParseError{key + " takes True or False, not '" + text + "'"};
}

// max_split_size_mb and max_non_split_rounding_mb: whole MiB, at least the
// 20 MiB large segment.
uint64_t megabytes_at_least_20(const std::string& text, const std::string& key) {
  uint64_t mb = whole_number(text, key);
  if (mb < kLargeBuffer / kMiB) throw ParseError{key + " must be at least 20, not " + text};
  return std::min(mb, kNoMaxSplitSize / kMiB) * kMiB;
}

double fraction_between_0_and_1(const std::string& text, const std::string& key) {
  double value = real_number(text, key);
  if (!(value > 0 && value < 1)) throw ParseError{key + " must lie between 0 and 1 (exclusive), not " + text};
  return value;
}

uint32_t divisions(const std::string& text, bool zero_allowed) {
  const std::string key = "roundup_power2_divisions";
  uint64_t value = whole_number(text, key);
  bool ok = (std::has_single_bit(value) || (zero_allowed && value == 0)) && value <= (uint64_t{1} << 31);
  if (!ok) throw ParseError{key + ": divisions must be a power of 2" + (zero_allowed ? " or 0" : "") + ", not " + text};
  return static_cast<uint32_t>(value);
}

// The interval an entry "N:divisions" names: N MiB, a power of two; the
// interval [2^k MiB, 2^(k+1) MiB) is number k, the last one open-ended.
size_t interval_of(const std::string& text) {
  uint64_t mb = whole_number(text, "roundup_power2_divisions");
  if (!std::has_single_bit(mb)) throw ParseError{"roundup_power2_divisions: interval " + text + " is not a power of 2"};
  return std::min<size_t>(std::bit_width(mb) - 1, kRoundupIntervals - 1);
}

using Divisions = std::array<uint32_t, kRoundupIntervals>;

// "[256:1,512:2,1024:4,>:8]". The first entry also covers every interval
// below it; ">" covers every interval from the last one named onwards,
// that one included (so here 1024 MiB and up get 8: PyTorch fills it so).
void parse_divisions_list(TokenCursor& cursor, Divisions& result) {
  bool first = true;
  size_t last_index = 0;
  while (!cursor.next_is("]")) {
    std::string interval = cursor.take("']' closing roundup_power2_divisions");
    uint32_t value = divisions(cursor.value_of("roundup_power2_divisions interval " + interval), true);
    if (interval == ">") {
      std::fill(result.begin() + static_cast<ptrdiff_t>(last_index), result.end(), value);
    } else {
      size_t index = interval_of(interval);
      if (first) std::fill(result.begin(), result.begin() + static_cast<ptrdiff_t>(index), value);
      result[index] = value;
      last_index = index;
      first = false;
    }
    if (!cursor.next_is("]")) cursor.expect(",", "roundup_power2_divisions entry " + interval);
  }
  cursor.expect("]", "roundup_power2_divisions list");
}

void parse_divisions(TokenCursor& cursor, Divisions& result) {
  cursor.expect(":", "roundup_power2_divisions");
  if (cursor.next_is("[")) {
    cursor.take("'['");
    parse_divisions_list(cursor, result);
    return;
  }
  result.fill(divisions(cursor.take("a value for roundup_power2_divisions"), false));
}

void parse_backend(const std::string& value) {
  if (value == "native") return;
  if (value == "cudaMallocAsync") {
    throw ParseError{"backend:cudaMallocAsync hands every tensor to CUDA's own pool; this model is of the native caching allocator"};
  }
  throw ParseError{"backend must be native or cudaMallocAsync, not '" + value + "'"};
}

// Options that change nothing the model sees (pinned host memory, locking)
// are still checked, so a string PyTorch refuses is refused.
bool parse_ignored_option(TokenCursor& cursor, const std::string& key) {
  if (key == "release_lock_on_cudamalloc" || key == "pinned_use_cuda_host_register" ||
      key == "pinned_use_background_threads" || key == "graph_capture_record_stream_reuse") {
    true_or_false(cursor.value_of(key), key);
    return true;
  }
  if (key == "pinned_num_register_threads" || key == "pinned_reserve_segment_size_mb") {
    whole_number(cursor.value_of(key), key);
    return true;
  }
  return false;
}

void parse_option(TokenCursor& cursor, const std::string& key, AllocatorConfig& config, ExtraKeys extra_keys) {
  if (key == "max_split_size_mb") {
    config.max_split_size = megabytes_at_least_20(cursor.value_of(key), key);
  } else if (key == "max_non_split_rounding_mb") {
    config.max_non_split_rounding = megabytes_at_least_20(cursor.value_of(key), key);
  } else if (key == "garbage_collection_threshold") {
    config.garbage_collection_threshold = fraction_between_0_and_1(cursor.value_of(key), key);
  } else if (key == "expandable_segments") {
    config.expandable_segments = true_or_false(cursor.value_of(key), key);
  } else if (key == "roundup_power2_divisions") {
    parse_divisions(cursor, config.roundup_power2_divisions);
  } else if (key == "backend") {
    parse_backend(cursor.value_of(key));
  } else if (key == "per_process_memory_fraction" && extra_keys == ExtraKeys::Accept) {
    double fraction = real_number(cursor.value_of(key), key);
    if (!(fraction > 0 && fraction <= 1)) throw ParseError{key + " must lie in (0, 1], not " + std::to_string(fraction)};
    config.memory_fraction = fraction;
  } else if (!parse_ignored_option(cursor, key)) {
    throw ParseError{"unrecognized option '" + key + "'"};
  }
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string interval_key(size_t index) { return std::to_string(uint64_t{1} << index); }

// The list form that parse_divisions_list reads back into `values`.
std::string describe_divisions_list(const Divisions& values) {
  std::string text;
  auto add = [&](const std::string& entry) { text += (text.empty() ? "" : ",") + entry; };
  size_t start = 0;
  while (start < values.size()) {
    size_t end = start;
    while (end + 1 < values.size() && values[end + 1] == values[start]) ++end;
    std::string value = std::to_string(values[start]);
    if (start == 0) {
      add(interval_key(end) + ":" + value);  // also fills everything below
    } else if (end + 1 == values.size() && end > start) {
      add(interval_key(start) + ":" + value);
      add(">:" + value);
    } else {
      for (size_t i = start; i <= end; ++i) add(interval_key(i) + ":" + value);
    }
    start = end + 1;
  }
  return "[" + text + "]";
}

std::string describe_divisions(const Divisions& values) {
  bool all_same = std::all_of(values.begin(), values.end(), [&](uint32_t v) { return v == values[0]; });
  if (all_same && std::has_single_bit(values[0])) return std::to_string(values[0]);
  return describe_divisions_list(values);
}

}  // namespace

uint32_t AllocatorConfig::divisions_for(uint64_t size) const {
  // Interval 0 holds everything below 2 MiB, the last everything from 32 GiB.
  int log_size = size == 0 ? 0 : std::bit_width(size) - 1;
  int index = std::clamp(log_size - 20, 0, kRoundupIntervals - 1);
  return roundup_power2_divisions[static_cast<size_t>(index)];
}

ConfigParse parse_alloc_conf(std::string_view text, const AllocatorConfig& base, ExtraKeys extra_keys) {
  ConfigParse result;
  AllocatorConfig config = base;
  TokenCursor cursor(tokenize(text));
  try {
    while (!cursor.done()) {
      std::string key = cursor.take("an option");
      parse_option(cursor, key, config, extra_keys);
      if (!cursor.done()) cursor.expect(",", key);
    }
  } catch (const ParseError& error) {
    result.error = "allocator settings '" + std::string(text) + "': " + error.message;
    return result;
  }
  result.config = config;
  return result;
}

std::string describe(const AllocatorConfig& config) {
  const AllocatorConfig defaults;
  std::vector<std::string> parts;
  if (config.expandable_segments) parts.push_back("expandable_segments:True");
  if (config.has_max_split_size()) parts.push_back("max_split_size_mb:" + std::to_string(config.max_split_size / kMiB));
  if (config.max_non_split_rounding != defaults.max_non_split_rounding) {
    parts.push_back("max_non_split_rounding_mb:" + std::to_string(config.max_non_split_rounding / kMiB));
  }
  if (config.garbage_collection_threshold > 0) {
    parts.push_back("garbage_collection_threshold:" + format_number(config.garbage_collection_threshold));
  }
  if (config.roundup_power2_divisions != defaults.roundup_power2_divisions) {
    parts.push_back("roundup_power2_divisions:" + describe_divisions(config.roundup_power2_divisions));
  }
  if (config.memory_fraction) parts.push_back("per_process_memory_fraction:" + format_number(*config.memory_fraction));
  if (parts.empty()) return "defaults";
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ",") + part;
  return text;
}

}  // namespace oomtrace::caching
