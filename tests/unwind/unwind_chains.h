// Call chains the unwinder tests walk through, each in a translation unit
// of its own so that CMake can build it with or without frame pointers.
// Every function calls on and then does work of its own, so none becomes a
// tail call or is folded into its caller.
#pragma once

#include <cstdint>

namespace unwind_test {

// Called at the bottom of a chain; returns a value the chain passes up.
using Probe = int (*)(void* context);

// Alternates between the two units, `depth` frames in all.
int chain_with_frame_pointers(int depth, Probe probe, void* context);     // -fno-omit-frame-pointer
int chain_without_frame_pointers(int depth, Probe probe, void* context);  // -fomit-frame-pointer

// alloca and a variable-length array of `bytes`: frames whose size is known
// only at run time (their CFA is rbp-based even without -fno-omit-frame-pointer).
int chain_through_alloca(int depth, int bytes, Probe probe, void* context);
int chain_through_variable_array(int depth, int bytes, Probe probe, void* context);

}  // namespace unwind_test

// In the shared library libunwind_test_callbacks.so (-fomit-frame-pointer).
extern "C" int unwind_test_through_library(int depth, unwind_test::Probe probe, void* context);
