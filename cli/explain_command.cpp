#include "cli/explain_command.h"

#include <unistd.h>

#include <cstdio>
#include <optional>

#include "cli/command_output.h"
#include "cli/messages.h"
#include "report/messages/explain.h"

namespace oomtrace::cli {
namespace {

namespace messages = report::messages;

// Arguments are joined with spaces: an unquoted message arrives split.
std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// Standard input up to kMaxMessageInput; nullopt (and an error printed)
// when there is more: a message is a few kilobytes, not a whole log.
std::optional<std::string> read_standard_input() {
  std::string text;
  char buffer[65536];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
    text.append(buffer, got);
    if (text.size() > messages::kMaxMessageInput) {
      print_error("the input is larger than 1 MiB: paste the out-of-memory message, or the end of the log "
                  "(tail -n 200 LOG | oomtrace explain)");
      return std::nullopt;
    }
  }
  return text;
}

bool blank(const std::string& text) { return text.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace

CLI::App* add_explain_command(CLI::App& app, ExplainOptions& options) {
  CLI::App* command = app.add_subcommand(
      "explain", "Explain an out-of-memory message from PyTorch, TensorFlow, JAX or CuPy, given as arguments or "
                 "on standard input");
  command->add_option("--format", options.format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));
  command->add_option("message", options.message, "the message (quote it); none: read standard input");
  add_output_option(*command, options.output_path);
  return command;
}

int explain_command(const ExplainOptions& options) {
  std::string text;
  if (!options.message.empty()) {
    text = joined(options.message);
  } else if (isatty(STDIN_FILENO)) {
    // Nothing piped: waiting for a paste would look like a hang.
    print_error("no message: pass it as an argument or pipe it in (see oomtrace explain --help)");
    return kExitUsage;
  } else {
    std::optional<std::string> input = read_standard_input();
    if (!input) return kExitBadInput;
    text = std::move(*input);
  }
  if (blank(text)) {
    print_error("no message: the input is empty (see oomtrace explain --help)");
    return kExitUsage;
  }
  std::optional<messages::Explanation> explanation = messages::explain_message(text);
  bool json = options.format == "json";
  if (!explanation) {
    if (json && !write_command_output(messages::render_not_recognised_json(), options.output_path)) return kExitBadInput;
    print_note(messages::kNotRecognised);
    return kExitBadInput;
  }
  std::string out = json ? messages::render_explanation_json(*explanation)
                         : messages::render_explanation_text(*explanation);
  return write_command_output(out, options.output_path) ? 0 : kExitBadInput;
}

}  // namespace oomtrace::cli
