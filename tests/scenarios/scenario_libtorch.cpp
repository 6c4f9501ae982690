// A libtorch-style C++ program: PyTorch's allocator refuses a request
// because of a per-process memory fraction, so no CUDA call fails; all the
// evidence is in the c10::OutOfMemoryError it throws. The exception types
// mirror c10's (c10::Error derives from std::exception) so that the
// library's __cxa_throw hook meets what it meets in libtorch.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <exception>
#include <string>

namespace c10 {

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

}  // namespace c10

namespace {

constexpr size_t kMiB = 1 << 20;

// PyTorch 2.x's message when a memory fraction caps the process at 4 GiB on
// a 16 GiB device: 3.75 GiB allocated, 2 GiB more requested.
const char kFractionMessage[] =
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 16.00 GiB of "
    "which 12.00 GiB is free. Including non-PyTorch memory, this process has 4.00 GiB memory in "
    "use. 4.00 GiB allowed; Of the allocated memory 3.75 GiB is allocated by PyTorch, and "
    "256.00 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is "
    "large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.";

void allocate_like_the_caching_allocator() {
  for (int i = 0; i < 2; ++i) {
    void* segment = nullptr;
    cudaMalloc(&segment, 2048 * kMiB);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "fraction_limit" && mode != "uncaught") {
    std::fprintf(stderr, "usage: scenario_libtorch fraction_limit|uncaught\n");
    return 2;
  }
  allocate_like_the_caching_allocator();
  if (mode == "uncaught") throw c10::OutOfMemoryError(kFractionMessage);
  try {
    throw c10::OutOfMemoryError(kFractionMessage);
  } catch (const std::exception& error) {
    // The program sees exactly the exception it threw.
    std::printf("caught: %.24s\n", error.what());
    return 1;
  }
}
