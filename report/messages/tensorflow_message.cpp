// TensorFlow's messages:
//   Allocator (GPU_0_bfc) ran out of memory trying to allocate 18.00MiB
//     (rounded to 18874368)requested by op Mul            BFC allocator
//   OOM when allocating tensor with shape[16,112,112,147] and type float on
//     /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc
//   failed to allocate 159.69M (167444480 bytes) from device:
//     CUDA_ERROR_OUT_OF_MEMORY: out of memory              driver, at start-up
//   failed to alloc 2147483648 bytes on host: CUDA_ERROR_OUT_OF_MEMORY
// and the lines around them that carry figures: "Created TensorFlow device
// (... GPU:0 with 67 MB memory)", the allocator dump's "Stats:" block
// (Limit, InUse, LargestFreeBlock, ...), and the CPU allocator's
// "Allocation of N exceeds 10% of free system memory".
#include <array>

#include "report/messages/normalize.h"
#include "report/messages/parsers.h"
#include "report/messages/sizes.h"

namespace oomtrace::report::messages {
namespace {

// A tensor line and the allocator line of the same failure are this close.
constexpr size_t kSameFailureLines = 3;

struct DtypeSize {
  std::string_view name;
  uint64_t bytes;
};

constexpr std::array<DtypeSize, 16> kDtypes = {{
    {"float", 4},  {"float32", 4}, {"double", 8},  {"float64", 8},   {"half", 2},      {"float16", 2},
    {"bfloat16", 2}, {"int8", 1},  {"uint8", 1},   {"bool", 1},      {"int16", 2},     {"uint16", 2},
    {"int32", 4},  {"int64", 8},   {"complex64", 8}, {"complex128", 16},
}};

std::optional<uint64_t> dtype_bytes(std::string_view dtype) {
  for (const DtypeSize& entry : kDtypes) {
    if (entry.name == dtype) return entry.bytes;
  }
  return std::nullopt;
}

// The word after marker, up to a space or the end.
std::string word_after(std::string_view text, std::string_view marker) {
  size_t at = text.find(marker);
  if (at == std::string_view::npos) return {};
  size_t begin = at + marker.size();
  size_t end = text.find(' ', begin);
  return std::string(text.substr(begin, end == std::string_view::npos ? end : end - begin));
}

bool is_host_allocator(const std::string& allocator) { return allocator.find("host") != std::string::npos; }

// "GPU_1_bfc" -> 1; host allocators -> -1.
std::optional<int> allocator_device(const std::string& allocator) {
  if (is_host_allocator(allocator)) return -1;
  if (!allocator.starts_with("GPU_")) return std::nullopt;
  std::optional<uint64_t> index = integer_at(allocator, 4);
  return index ? std::optional<int>(static_cast<int>(*index)) : std::nullopt;
}

ParsedMessage started(const std::string& text, size_t line, const char* variant) {
  ParsedMessage m;
  m.framework = "tensorflow";
  m.variant = variant;
  m.text = collapse_spaces(text);
  m.line = line;
  return m;
}

// "Allocator (GPU_0_bfc) ran out of memory trying to allocate 18.00MiB
// (rounded to 18874368)requested by op Mul"
std::optional<ParsedMessage> bfc_message(const std::string& text, size_t line) {
  size_t open = text.find("Allocator (");
  if (open == std::string::npos || !contains(text, ") ran out of memory trying to allocate ")) return std::nullopt;
  ParsedMessage m = started(text, line, "tensorflow-bfc");
  size_t close = text.find(')', open);
  std::string allocator = text.substr(open + 11, close - open - 11);
  m.details["allocator"] = allocator;
  m.device = allocator_device(allocator);
  std::optional<SizeToken> printed = size_after(text, "trying to allocate ");
  if (printed) m.figures["requested_as_printed"] = printed->bytes;
  std::optional<uint64_t> rounded = integer_after(text, "(rounded to ");
  if (rounded) m.figures["rounded"] = *rounded;
  // The rounded figure is what the allocator looked for, to the byte.
  m.requested_bytes = rounded ? rounded : (printed ? std::optional<uint64_t>(printed->bytes) : std::nullopt);
  size_t op = text.find("requested by op ");
  if (op != std::string::npos) m.details["op"] = std::string(trim(std::string_view(text).substr(op + 16)));
  return m;
}

// "OOM when allocating tensor with shape[128,128,109,109] and type float on
// /job:localhost/replica:0/task:0/device:GPU:1 by allocator GPU_1_bfc"
std::optional<ParsedMessage> tensor_message(const std::string& text, size_t line) {
  size_t at = text.find("OOM when allocating tensor");
  if (at == std::string::npos) return std::nullopt;
  ParsedMessage m = started(text, line, "tensorflow-tensor");
  size_t open = text.find('[', at);
  size_t close = text.find(']', open);
  if (open == std::string::npos || close == std::string::npos) return m;
  std::string dims = text.substr(open + 1, close - open - 1);
  m.details["shape"] = "[" + dims + "]";
  unsigned __int128 elements = 1;
  bool known = true;
  for (size_t pos = 0; pos <= dims.size();) {
    size_t end = 0;
    std::optional<uint64_t> dim = integer_at(dims, pos, &end);
    if (!dim) { known = false; break; }
    elements *= *dim;
    if (elements > UINT64_MAX) { known = false; break; }
    pos = dims.find(',', end);
    if (pos == std::string::npos) break;
    ++pos;
  }
  std::string dtype = word_after(text, " and type ");
  if (!dtype.empty()) m.details["dtype"] = dtype;
  std::optional<uint64_t> element_bytes = dtype_bytes(dtype);
  if (known && element_bytes && elements * *element_bytes <= UINT64_MAX) {
    m.requested_bytes = static_cast<uint64_t>(elements * *element_bytes);
  }
  std::string device = word_after(text, " on ");
  if (!device.empty()) m.details["device"] = device;
  if (auto gpu = integer_after(device, "device:GPU:")) m.device = static_cast<int>(*gpu);
  std::string allocator = word_after(text, "by allocator ");
  if (!allocator.empty()) {
    m.details["allocator"] = allocator;
    if (!m.device) m.device = allocator_device(allocator);
  }
  return m;
}

// "failed to allocate 159.69M (167444480 bytes) from device: CUDA_ERROR_..."
// "failed to alloc 2147483648 bytes on host: CUDA_ERROR_OUT_OF_MEMORY"
std::optional<ParsedMessage> driver_message(const std::string& text, size_t line) {
  bool allocate = contains(text, "failed to allocate ");
  if (!allocate && !contains(text, "failed to alloc ")) return std::nullopt;
  bool hip = contains(text, "hipError");
  if (!hip && !contains(text, "CUDA_ERROR_OUT_OF_MEMORY")) return std::nullopt;
  ParsedMessage m = started(text, line, "tensorflow-driver");
  if (hip) m.framework = "tensorflow-rocm";
  std::optional<SizeToken> printed = size_after(text, allocate ? "failed to allocate " : "failed to alloc ");
  if (printed) m.requested_bytes = printed->bytes;
  // "159.69M (167444480 bytes)": the figure in parentheses is exact.
  if (auto exact = size_after(text, "(", printed ? printed->end : 0); exact && allocate) {
    m.requested_bytes = exact->bytes;
  }
  if (contains(text, " on host")) m.device = -1;
  m.details["cuda_error"] = hip ? word_after(text, "from device: ") : "CUDA_ERROR_OUT_OF_MEMORY";
  return m;
}

struct Context {
  std::map<int, uint64_t> device_memory;  // "Created TensorFlow device ... with N MB memory"
  std::optional<uint64_t> cpu_allocation;
  std::map<std::string, uint64_t> stats;  // the dump's "Stats:" block
  size_t stats_line = 0;
};

bool read_context(const std::string& line, size_t index, Context& context) {
  if (contains(line, "Created TensorFlow device")) {
    std::optional<uint64_t> gpu = integer_after(line, "device:GPU:");
    std::optional<SizeToken> memory = size_before(line, " memory)");
    if (gpu && memory) context.device_memory[static_cast<int>(*gpu)] = memory->bytes;
    return true;
  }
  if (contains(line, "exceeds 10% of free system memory")) {
    context.cpu_allocation = integer_after(line, "Allocation of ");
    return true;
  }
  for (const char* key : {"Limit", "InUse", "MaxInUse", "NumAllocs", "MaxAllocSize", "Reserved", "PeakReserved",
                          "LargestFreeBlock"}) {
    std::string label = std::string(key) + ":";
    if (trim(line).substr(0, label.size()) == label) {
      if (auto value = integer_after(line, label)) context.stats[key] = *value;
      context.stats_line = index;
      return true;
    }
  }
  return false;
}

// A tensor line and the allocator line that follow each other describe one
// failure: the allocator's figures are exact, the tensor's shape is kept.
void merge_into(ParsedMessage& allocator_line, const ParsedMessage& tensor_line) {
  for (const auto& [key, value] : tensor_line.details) allocator_line.details.try_emplace(key, value);
  if (!allocator_line.requested_bytes) allocator_line.requested_bytes = tensor_line.requested_bytes;
  allocator_line.text = tensor_line.text + " " + allocator_line.text;
  allocator_line.line = std::min(allocator_line.line, tensor_line.line);
}

bool same_failure(const ParsedMessage& a, const ParsedMessage& b) {
  bool pair = (a.variant == "tensorflow-tensor") != (b.variant == "tensorflow-tensor") &&
              (a.variant == "tensorflow-bfc" || b.variant == "tensorflow-bfc");
  return pair && b.line - a.line <= kSameFailureLines;
}

std::vector<ParsedMessage> merged(std::vector<ParsedMessage> found) {
  std::vector<ParsedMessage> result;
  for (ParsedMessage& message : found) {
    if (!result.empty() && same_failure(result.back(), message)) {
      ParsedMessage& previous = result.back();
      if (message.variant == "tensorflow-bfc") {
        merge_into(message, previous);
        previous = std::move(message);
      } else {
        merge_into(previous, message);
      }
      continue;
    }
    result.push_back(std::move(message));
  }
  return result;
}

// TensorFlow reserves its pool with one request to the driver and, refused,
// asks again for 90% of the last: one failure, however many lines. The
// retries are kept as retry_1, retry_2, ...
bool continues_backoff(const ParsedMessage& run, const ParsedMessage& next, size_t run_last_line) {
  if (run.variant != "tensorflow-driver" || next.variant != "tensorflow-driver") return false;
  auto retries = run.figures.find("retries");
  std::string last_key = retries == run.figures.end() ? "" : "retry_" + std::to_string(retries->second);
  std::optional<uint64_t> last =
      last_key.empty() ? run.requested_bytes : std::optional<uint64_t>(run.figures.at(last_key));
  return run.device == next.device && next.line <= run_last_line + 2 && last && next.requested_bytes &&
         *next.requested_bytes < *last;
}

std::vector<ParsedMessage> backoffs_merged(std::vector<ParsedMessage> found) {
  std::vector<ParsedMessage> result;
  size_t last_line = 0;
  for (ParsedMessage& message : found) {
    size_t line = message.line;
    if (!result.empty() && continues_backoff(result.back(), message, last_line)) {
      uint64_t& retries = result.back().figures["retries"];
      result.back().figures["retry_" + std::to_string(++retries)] = *message.requested_bytes;
    } else {
      result.push_back(std::move(message));
    }
    last_line = line;
  }
  return result;
}

// The Stats block of an allocator dump: for a host allocator its Limit is
// TensorFlow's pinned-memory cap; for a GPU allocator it is the region
// TensorFlow may use, InUse what its tensors hold.
void apply_stats(const std::map<std::string, uint64_t>& stats, ParsedMessage& m) {
  for (const auto& [key, value] : stats) m.figures["bfc_" + key] = value;
  auto limit = stats.find("Limit");
  auto in_use = stats.find("InUse");
  if (limit == stats.end() || in_use == stats.end()) return;
  if (is_host_allocator(m.details["allocator"])) {
    m.cap = MemoryCap{CapKind::TensorFlowHostLimit, limit->second, true};
    m.reserved_bytes = in_use->second;
    return;
  }
  m.reserved_bytes = limit->second;
  m.allocated_bytes = in_use->second;
  if (auto largest = stats.find("LargestFreeBlock"); largest != stats.end()) {
    m.largest_free_block_bytes = largest->second;
  }
}

void apply_context(const Context& context, ParsedMessage& m) {
  if (context.cpu_allocation) m.figures["cpu_allocation"] = *context.cpu_allocation;
  int device = m.device.value_or(context.device_memory.size() == 1 ? context.device_memory.begin()->first : 0);
  if (auto memory = context.device_memory.find(device); memory != context.device_memory.end()) {
    m.figures["tf_device_memory"] = memory->second;
  }
}

}  // namespace

void find_tensorflow_messages(Input input, std::vector<ParsedMessage>& out) {
  Context context;
  std::vector<ParsedMessage> found;
  std::optional<uint64_t> last_host_request;
  for (size_t line = 0; line < input.lines.size(); ++line) {
    const std::string& text = input.lines[line];
    if (input.used[line]) continue;
    if (read_context(text, line, context)) continue;
    // The host allocator repeats a failed pinned allocation in words.
    if (auto size = integer_after(text, "could not allocate pinned host memory of size: ")) {
      if (size == last_host_request) input.used[line] = true;
      continue;
    }
    std::optional<ParsedMessage> message = bfc_message(text, line);
    if (!message) message = tensor_message(text, line);
    if (!message) message = driver_message(text, line);
    if (!message) continue;
    input.used[line] = true;
    last_host_request = message->device == -1 ? message->requested_bytes : std::nullopt;
    found.push_back(std::move(*message));
  }
  std::vector<ParsedMessage> failures = backoffs_merged(merged(std::move(found)));
  // A paste holds one dump at most: its Stats go to the failure nearest it.
  auto distance = [&](const ParsedMessage& m) {
    return m.line > context.stats_line ? m.line - context.stats_line : context.stats_line - m.line;
  };
  ParsedMessage* nearest = nullptr;
  for (ParsedMessage& message : failures) {
    apply_context(context, message);
    if (!nearest || distance(message) < distance(*nearest)) nearest = &message;
  }
  if (nearest && !context.stats.empty()) apply_stats(context.stats, *nearest);
  for (ParsedMessage& message : failures) out.push_back(std::move(message));
}

}  // namespace oomtrace::report::messages
