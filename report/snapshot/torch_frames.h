// How a PyTorch stack reads to a person: which frames are Python, which of
// those belong to the program rather than to a library, and the one line
// naming where an allocation came from.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "report/snapshot/torch_snapshot.h"

namespace oomtrace::report {

inline constexpr char kNoStackSite[] = "(no stack recorded)";     // allocated before history was on
inline constexpr char kNoPythonFrameSite[] = "(no Python frame)";  // e.g. autograd's own threads

// A Python source frame ("x.py", "<stdin>"), as opposed to the C++ frames
// PyTorch adds with stacks="all" ("??", "", "CUDACachingAllocator.cpp").
bool is_python_frame(const TorchFrame& frame);
// Inside an installed package, the standard library, torch/ itself, or a
// frozen module: a frame that says how, not where in the program.
bool is_library_frame(const TorchFrame& frame);

std::string frame_text(const TorchFrame& frame);  // "path/file.py:12 in name"

// The Python frames of a stack, innermost first, at most max_frames.
std::vector<std::string> python_stack(const TorchSnapshot& snapshot, TorchStackId stack, size_t max_frames);

// The innermost Python frame of the program's own code; else the innermost
// Python frame; else, for a C++-only stack, the ATen operator that
// allocated ("C++ at::_ops::bmm"); else kNoPythonFrameSite. kNoStackSite
// for an empty stack.
std::string allocation_site(const TorchSnapshot& snapshot, TorchStackId stack);

}  // namespace oomtrace::report
