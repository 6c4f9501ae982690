// The text report's native stacks, shortened: runs of frames inside the CUDA
// libraries, the C and C++ runtime, the loader and the Python interpreter
// say how a call got somewhere, not where in the program it came from, so
// each run of two or more reads as one line ("... 4 frames in
// libcudart.so.13, libc.so.6"). The JSON report keeps every frame.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oomtrace::report {

// The file name of the module a frame line of stack_text.h names: the
// text in its last parentheses, "+0xOFF" and folders dropped. Empty when
// the line names none.
std::string frame_module_name(std::string_view line);

// libcuda, libcudart, libcublas*, libcudnn*, libnccl, liboomtrace, libc,
// libstdc++, libgcc_s, ld-linux, libpython*, python3.x and kin.
bool is_plumbing_module(std::string_view module_name);

std::vector<std::string> fold_plumbing_frames(const std::vector<std::string>& stack);

// The innermost frame outside those modules (the program's own code);
// the innermost frame when all are inside them. Empty for an empty stack.
std::string first_program_frame(const std::vector<std::string>& stack);

}  // namespace oomtrace::report
