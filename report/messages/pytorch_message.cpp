// PyTorch's caching allocator messages, every era:
//  (a) 2018-19   "... Tried to allocate X (GPU 0; T total capacity; A already
//                allocated; F free; C cached)"
//  (b) 2019-23   "... (GPU 0; T total capacity; A already allocated; F free;
//                [N allowed; ]R reserved in total by PyTorch)" [+ hint]
//  (c) 2.1       "... Tried to allocate X. GPU 0 has a total capacty of T of
//                which F is free. [processes] Of the allocated memory A is
//                allocated by PyTorch, and U is reserved by PyTorch but
//                unallocated." (sic: "capacty")
//  (d) current   as (c) spelled "capacity", with "N allowed; " and "with P
//                allocated in private pools (e.g., CUDA Graphs), "
// plus the ROCm ("HIP out of memory") and XPU builds and the 1 EB guard
// ("Tried to allocate more than 1EB memory.").
#include <algorithm>

#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

constexpr size_t kMaxMessageLines = 12;
constexpr uint64_t kOneEiB = 1ull << 60;

bool says_out_of_memory(const std::string& line) {
  return contains(line, "out of memory") || contains(line, "can NOT allocate memory block");
}

// The message's last words in each era: nothing after them belongs to it.
bool complete(std::string_view text) {
  text = trim(text);
  return text.find("environment-variables)") != std::string_view::npos || text.ends_with("ALLOC_CONF") ||
         text.ends_with("cached)") || text.ends_with("by PyTorch)") || text.ends_with("1EB memory.");
}

bool starts_something_else(std::string_view line, bool request_seen) {
  std::string_view text = trim(line);
  if (text.empty()) return true;
  for (std::string_view marker : {"frame #", "Exception raised from", "Traceback", "CRITICAL", "During handling"}) {
    if (text.starts_with(marker)) return true;
  }
  std::string copy(text);
  return says_out_of_memory(copy) || (request_seen && contains(copy, "Tried to allocate"));
}

// How many lines from `first` make up the message: a terminal or a person
// may have wrapped it.
size_t message_extent(Input input, size_t first) {
  size_t count = 1;
  std::string joined = input.lines[first];
  while (!complete(joined) && count < kMaxMessageLines && first + count < input.lines.size()) {
    const std::string& next = input.lines[first + count];
    if (starts_something_else(next, contains(joined, "Tried to allocate"))) break;
    joined = join_wrapped(input.lines, first, ++count);
  }
  return count;
}

std::string framework_of(const std::string& text) {
  if (contains(text, "HIP out of memory")) return "pytorch-rocm";
  if (contains(text, "XPU out of memory") || contains(text, "can NOT allocate memory block")) return "pytorch-xpu";
  if (contains(text, "MPS backend out of memory")) return "pytorch-mps";
  return "pytorch";
}

MemoryCap fraction_cap(uint64_t bytes) { return MemoryCap{CapKind::PyTorchMemoryFraction, bytes, true}; }

// "(GPU 0; 11.93 GiB total capacity; 4.00 GiB already allocated; ...)"
void read_parenthesised_figures(std::string_view text, size_t open, ParsedMessage& m) {
  m.device = static_cast<int>(integer_at(text, open + 4).value_or(0));
  size_t close = text.find(')', open);
  std::string_view clauses = text.substr(open, close == std::string_view::npos ? std::string_view::npos : close - open);
  size_t semicolon = clauses.find(';');
  while (semicolon != std::string_view::npos) {
    size_t next = clauses.find(';', semicolon + 1);
    size_t length = next == std::string_view::npos ? next : next - semicolon - 1;
    std::string_view clause = trim(clauses.substr(semicolon + 1, length));
    semicolon = next;
    std::optional<SizeToken> size = size_at(clause, 0);
    if (!size) continue;
    std::string_view label = trim(clause.substr(size->end));
    if (label == "total capacity") m.total_bytes = size->bytes;
    if (label == "already allocated") m.allocated_bytes = size->bytes;
    if (label == "free") m.free_bytes = size->bytes;
    if (label == "cached") m.figures["cached"] = size->bytes;
    if (label == "reserved in total by PyTorch") m.reserved_bytes = size->bytes;
    if (label == "allowed") m.cap = fraction_cap(size->bytes);
  }
  bool cached_era = m.figures.count("cached") > 0;
  m.variant = cached_era ? "pytorch-cached" : "pytorch-reserved";
  // The cached era's "cached" is what the allocator held unused.
  if (cached_era && m.allocated_bytes) m.reserved_bytes = *m.allocated_bytes + m.figures["cached"];
}

void read_processes(std::string_view text, ParsedMessage& m) {
  for (size_t at = text.find("Process "); at != std::string_view::npos; at = text.find("Process ", at + 1)) {
    size_t end = 0;
    std::optional<uint64_t> pid = integer_at(text, at + 8, &end);
    if (!pid || text.substr(end, 5) != " has ") continue;
    std::optional<SizeToken> size = size_at(text, end + 5);
    if (size) m.processes.push_back({static_cast<uint32_t>(*pid), size->bytes});
  }
}

// "GPU 0 has a total capacity of T of which F is free. ..."
void read_sentence_figures(std::string_view text, ParsedMessage& m) {
  bool typo = text.find("total capacty of") != std::string_view::npos;
  m.variant = typo ? "pytorch-capacty" : "pytorch-capacity";
  size_t has = text.find(" has a total capac");
  size_t gpu = text.rfind("GPU ", has);
  if (gpu != std::string_view::npos) m.device = static_cast<int>(integer_at(text, gpu + 4).value_or(0));
  if (auto total = size_after(text, typo ? "total capacty of" : "total capacity of")) m.total_bytes = total->bytes;
  if (auto free = size_after(text, " of which ")) m.free_bytes = free->bytes;
  read_processes(text, m);
  if (auto own = size_after(text, "this process has ")) m.this_process_bytes = own->bytes;
  if (auto allowed = size_before(text, " allowed;")) m.cap = fraction_cap(allowed->bytes);
  if (auto allocated = size_after(text, "Of the allocated memory ")) m.allocated_bytes = allocated->bytes;
  if (auto pools = size_before(text, " allocated in private pools")) m.figures["private_pools"] = pools->bytes;
  if (auto unallocated = size_before(text, " is reserved by PyTorch but unallocated")) {
    m.figures["reserved_unallocated"] = unallocated->bytes;
    if (m.allocated_bytes) m.reserved_bytes = *m.allocated_bytes + unallocated->bytes;
  }
}

ParsedMessage parse_message(const std::string& joined, size_t line) {
  std::string text = collapse_spaces(joined);
  ParsedMessage m;
  m.framework = framework_of(text);
  m.line = line;
  m.text = text;
  size_t tried = text.find("Tried to allocate ");
  if (text.compare(tried + 18, 13, "more than 1EB") == 0) {
    m.variant = "pytorch-1eb";
    m.requested_bytes = kOneEiB;
    m.requested_at_least = true;
    return m;
  }
  if (auto requested = size_at(text, tried + 18)) m.requested_bytes = requested->bytes;
  if (text.find("can NOT allocate memory block with size larger than 4GB") != std::string::npos) {
    m.cap = MemoryCap{CapKind::PlatformBlockLimit, 4ull << 30, true};
  }
  size_t open = text.find("(GPU", tried);
  if (open != std::string::npos) {
    read_parenthesised_figures(text, open, m);
  } else if (text.find(" has a total capac") != std::string::npos) {
    read_sentence_figures(text, m);
  } else {
    m.variant = "pytorch-truncated";
  }
  return m;
}

}  // namespace

bool contains(const std::string& text, const char* needle) { return text.find(needle) != std::string::npos; }

size_t read_cpp_backtrace(Input input, size_t line, ParsedMessage& message) {
  for (; line < input.lines.size(); ++line) {
    std::string_view text = trim(input.lines[line]);
    if (text.starts_with("Exception raised from ")) {
      message.details["location"] = std::string(text.substr(22));
    } else if (text.starts_with("frame #")) {
      size_t colon = text.find(": ");
      message.stack.emplace_back(trim(text.substr(colon == std::string_view::npos ? 0 : colon + 2)));
    } else {
      break;
    }
    input.used[line] = true;
  }
  return line;
}

void find_pytorch_messages(Input input, std::vector<ParsedMessage>& out) {
  for (size_t line = 0; line < input.lines.size(); ++line) {
    if (input.used[line] || !says_out_of_memory(input.lines[line])) continue;
    size_t count = message_extent(input, line);
    std::string joined = join_wrapped(input.lines, line, count);
    if (!contains(joined, "Tried to allocate ")) continue;
    ParsedMessage message = parse_message(joined, line);
    std::fill(input.used.begin() + line, input.used.begin() + line + count, true);
    size_t next = read_cpp_backtrace(input, line + count, message);
    out.push_back(std::move(message));
    line = next - 1;
  }
}

}  // namespace oomtrace::report::messages
