// Pasted text made readable: entities, colours, log prefixes, wrapped lines.
#include <catch2/catch.hpp>

#include "report/messages/normalize.h"

using namespace oomtrace::report::messages;

TEST_CASE("log prefixes are removed from each line", "[normalize]") {
  auto one = [](const std::string& line) { return normalized_lines(line).at(0); };
  CHECK(one("[rank0]: torch.OutOfMemoryError: CUDA") == "torch.OutOfMemoryError: CUDA");
  CHECK(one("ERROR 03-13 09:00:43 [core.py:330] torch.OutOfMemoryError: x") == "torch.OutOfMemoryError: x");
  CHECK(one("vllm-1  | ERROR 11-18 18:07:28 engine.py:366] ValueError: x") == "ValueError: x");
  CHECK(one("(VllmWorker rank=3 pid=1090) ERROR 06-05 06:18:13 [multiproc_executor.py:470] RuntimeError: x") ==
        "RuntimeError: x");
  CHECK(one("WARNING:root:CUDA out of memory.") == "CUDA out of memory.");
  CHECK(one("2019-07-21 23:26:35.082216: E tensorflow/stream_executor/cuda/cuda_driver.cc:828] failed") == "failed");
  CHECK(one("9:07:50.044545: W external/local_xla/xla/tsl/framework/bfc_allocator.cc:501] Allocator") == "Allocator");
  CHECK(one("2025-11-14T09:33:56.2332545Z FAILED x") == "FAILED x");
  // An application's own words stay: the parsers look inside the line.
  CHECK(one("Unable to create masks. CUDA out of memory.") == "Unable to create masks. CUDA out of memory.");
}

TEST_CASE("entities, colours, tabs and carriage returns", "[normalize]") {
  std::vector<std::string> lines = normalized_lines("a &gt;&gt; b &amp;lt;\r\n\x1b[31mred\x1b[0m\tx\n\n\n");
  REQUIRE(lines.size() == 2);  // trailing blank lines dropped
  CHECK(lines[0] == "a >> b &lt;");
  CHECK(lines[1] == "red x");
}

TEST_CASE("wrapped lines are joined back", "[normalize]") {
  // A terminal cuts at a fixed width, even mid-word: joined with nothing.
  std::vector<std::string> cut = {"abcd", "efgh", "ij"};
  CHECK(join_wrapped(cut, 0, 3) == "abcdefghij");
  // A person breaks between words: joined with a space.
  std::vector<std::string> by_hand = {"Tried to allocate 138.00 MiB.", "GPU 0 has", "x"};
  CHECK(join_wrapped(by_hand, 0, 3) == "Tried to allocate 138.00 MiB. GPU 0 has x");
  CHECK(join_wrapped(by_hand, 1, 1) == "GPU 0 has");
  CHECK(collapse_spaces("  a   b  ") == "a b");
}
