// The parsers, one family of messages each (one file each). Each reads the
// normalized lines, appends what it recognises to `out` with the line it
// starts on, and marks the lines it used in `used`, so that a later parser
// does not read them again.
#pragma once

#include <string>
#include <vector>

#include "report/messages/message.h"

namespace oomtrace::report::messages {

struct Input {
  const std::vector<std::string>& lines;
  std::vector<bool>& used;
};

void find_pytorch_messages(Input input, std::vector<ParsedMessage>& out);
void find_pytorch_async_messages(Input input, std::vector<ParsedMessage>& out);
void find_tensorflow_messages(Input input, std::vector<ParsedMessage>& out);
void find_jax_messages(Input input, std::vector<ParsedMessage>& out);
void find_cupy_messages(Input input, std::vector<ParsedMessage>& out);
void find_llamacpp_messages(Input input, std::vector<ParsedMessage>& out);
void find_vllm_messages(Input input, std::vector<ParsedMessage>& out);
// Last: what is left that says "out of memory" next to a CUDA error.
void find_raw_cuda_messages(Input input, std::vector<ParsedMessage>& out);

// Shared by the PyTorch parsers: the C++ frames and "Exception raised from"
// line that may follow a message; returns the line after them.
size_t read_cpp_backtrace(Input input, size_t line, ParsedMessage& message);

bool contains(const std::string& text, const char* needle);

}  // namespace oomtrace::report::messages
