// Text and JSON for `oomtrace explain`, in the style of the report.
#include <array>

#include <nlohmann/json.hpp>

#include "report/common/format_bytes.h"
#include "report/render/json_report.h"
#include "report/messages/explain.h"
#include "report/messages/message_failure.h"
#include "report/common/text_wrap.h"
#include "report/verdicts/verdict.h"
#include "report/render/json_values.h"

namespace oomtrace::report::messages {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kStackFramesShown = 8;

struct Label {
  std::string_view framework;
  std::string_view name;
};

constexpr std::array<Label, 10> kLabels = {{
    {"pytorch", "PyTorch"},
    {"pytorch-rocm", "PyTorch (ROCm)"},
    {"pytorch-xpu", "PyTorch (XPU)"},
    {"pytorch-mps", "PyTorch (MPS)"},
    {"tensorflow", "TensorFlow"},
    {"tensorflow-rocm", "TensorFlow (ROCm)"},
    {"jax", "JAX"},
    {"cupy", "CuPy"},
    {"llama.cpp", "llama.cpp"},
    {"vllm", "vLLM"},
}};

std::string framework_label(const std::string& framework) {
  for (const Label& label : kLabels) {
    if (label.framework == framework) return std::string(label.name);
  }
  return framework == "cuda" ? "CUDA" : framework;
}

std::string request_text(const ParsedMessage& m) {
  if (!m.requested_bytes) return "a request of unstated size";
  return (m.requested_at_least ? "more than " : "") + format_bytes(*m.requested_bytes);
}

std::string headline(const Explanation& e) {
  const ParsedMessage& m = e.message;
  const FailureReport& f = e.failure;
  std::string figures = (f.device_total_bytes ? format_bytes(*f.device_total_bytes) + " total" : "total unknown") +
                        ", " + (f.device_free_bytes ? format_bytes(*f.device_free_bytes) + " free" : "free unknown");
  // vLLM's checks allocate nothing: they find the KV cache too small.
  std::string what = m.framework == "vllm" ? "not enough memory for the KV cache"
                                           : "out of memory: " + request_text(m) + " on " + where_failed(m);
  return framework_label(m.framework) + ": " + what + " (" + figures + ")\n";
}

std::string held_line(const Explanation& e) {
  const ParsedMessage& m = e.message;
  const FailureReport& f = e.failure;
  if (!m.reserved_bytes && !m.allocated_bytes) return "";
  std::string text = "Held by " + framework_label(m.framework) + ": " + format_bytes(f.process_reserved_bytes);
  if (auto cached = cached_unallocated(f); cached && *cached > 0) {
    text += " (" + format_bytes(*f.process_allocated_bytes) + " allocated, " + format_bytes(*cached) +
            " cached but unallocated)";
  }
  return text + "\n";
}

std::string outside_line(const FailureReport& f) {
  if (!f.other_bytes) return "";
  std::string text = "Other processes and the CUDA context held: " + format_bytes(*f.other_bytes);
  std::string pids;
  for (const OtherProcess& other : f.other_processes) {
    pids += (pids.empty() ? "" : ", ") + ("pid " + std::to_string(other.pid) + ": " + format_bytes(other.used_bytes));
  }
  return text + (pids.empty() ? "" : " (" + pids + ")") + "\n";
}

std::string cap_line(const FailureReport& f) {
  if (!f.cap) return "";
  return "Cap: " + format_bytes(f.cap->bytes) + " (" + cap_kind_name(f.cap->kind) + ")\n";
}

std::string try_lines(const std::vector<Suggestion>& suggestions) {
  if (suggestions.empty()) return "";
  std::string text = "Try:\n";
  for (size_t i = 0; i < suggestions.size(); ++i) {
    text += wrap(suggestions[i].setting + " -- " + suggestions[i].reason, "  " + std::to_string(i + 1) + ". ");
  }
  return text;
}

std::string stack_lines(const std::vector<std::string>& stack) {
  if (stack.empty()) return "";
  std::string text = "Where (innermost first):\n";
  for (size_t i = 0; i < stack.size() && i < kStackFramesShown; ++i) text += "  " + stack[i] + "\n";
  return text;
}

std::string earlier_lines(const std::vector<ParsedMessage>& earlier) {
  if (earlier.empty()) return "";
  std::string text = "\nEarlier out-of-memory messages in the input (" + std::to_string(earlier.size()) +
                     "; the last one is explained above):\n";
  for (const ParsedMessage& m : earlier) {
    std::optional<Verdict> verdict = decide_verdict(failure_from_message(m).failure);
    text += "  - line " + std::to_string(m.line + 1) + ": " + request_text(m) + " on " + where_failed(m) + ", " +
            (verdict ? verdict_name(*verdict) : std::string("verdict unknown")) + "\n";
  }
  return text;
}

}  // namespace

std::string render_explanation_text(const Explanation& e) {
  const FailureReport& f = e.failure;
  std::string text = headline(e) + held_line(e) + outside_line(f) + cap_line(f);
  text += "Verdict: " + (f.verdict ? verdict_name(*f.verdict) : std::string("unknown")) + "\n";
  text += wrap(f.explanation, "Why: ");
  for (const std::string& note : e.notes) text += wrap(note, "Note: ");
  text += try_lines(f.suggestions) + stack_lines(f.stack) + earlier_lines(e.earlier);
  return text;
}

std::string render_explanation_json(const Explanation& e) {
  const ParsedMessage& m = e.message;
  json failure = failure_to_json(e.failure);
  // What a message cannot say is null, never a default.
  failure["api"] = nullptr;
  failure["device"] = or_null(m.device);
  failure["requested_bytes"] = or_null(m.requested_bytes);
  if (!m.reserved_bytes && !m.allocated_bytes) failure["process_reserved_bytes"] = nullptr;
  for (const char* unknown : {"process_segments", "recovered", "released_after_bytes", "time_ns", "thread"}) {
    failure[unknown] = nullptr;
  }
  if (m.stack.empty()) failure["stack"] = nullptr;

  json out = {{"recognised", true}, {"framework", m.framework}, {"variant", m.variant}};
  for (auto& [key, value] : failure.items()) {
    if (key != "framework") out[key] = value;
  }
  out["requested_at_least"] = m.requested_at_least;
  out["figures"] = m.figures;
  out["details"] = m.details;
  out["notes"] = e.notes;
  out["message"] = m.text;
  out["messages_in_input"] = e.earlier.size() + 1;
  return out.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_not_recognised_json() {
  json out = {{"recognised", false}, {"framework", nullptr}, {"explanation", kNotRecognised}};
  return out.dump(2) + "\n";
}

}  // namespace oomtrace::report::messages
