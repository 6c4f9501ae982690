// Regression test for the sanitized test environment (cmake/sanitize.cmake):
// GCC 12's runtime misreads a dynamic TLS block whose address is 16 mod 4096
// (https://github.com/google/sanitizers/issues/1322), and LeakSanitizer's
// tracer then crashes at exit. CI hit it by chance in the simulated driver;
// this program puts the block there on purpose, so the environment's
// intercept_tls_get_addr=0 is what keeps it alive. Exit 0: the block was
// placed and the leak check at exit survived it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <vector>

namespace {

constexpr std::uintptr_t kUnluckyOffset = 16;  // sizeof the guessed header
constexpr std::size_t kBlockBytes = 40;        // the module's thread_locals
constexpr std::uintptr_t kChunkStride = 64;    // ASan's chunk for 40 bytes, header and redzone included
constexpr int kMaxProbes = 1 << 14;

// ASan hands out chunks of one size class in address order from a thread's
// cache: allocate until the next one would start at the unlucky offset.
std::vector<void*> advance_to_unlucky_chunk() {
  std::vector<void*> kept;
  kept.reserve(kMaxProbes);
  for (int i = 0; i < kMaxProbes; ++i) {
    void* chunk = std::malloc(kBlockBytes);
    kept.push_back(chunk);
    auto next = reinterpret_cast<std::uintptr_t>(chunk) + kChunkStride;
    if (next % 4096 == kUnluckyOffset) break;
  }
  return kept;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dynamic_tls_program MODULE.so\n");
    return 2;
  }
  void* module = dlopen(argv[1], RTLD_NOW);
  if (!module) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  auto block_of = reinterpret_cast<void* (*)()>(dlsym(module, "dynamic_tls_block"));
  if (!block_of) return 2;
  std::vector<void*> kept = advance_to_unlucky_chunk();
  auto block = reinterpret_cast<std::uintptr_t>(block_of());
  std::printf("dynamic TLS block at %#lx (%lu mod 4096), %zu chunks before it\n",
              static_cast<unsigned long>(block), static_cast<unsigned long>(block % 4096),
              kept.size());
  for (void* chunk : kept) std::free(chunk);
  // Not placed: the test would prove nothing on this runtime, so it fails.
  return block % 4096 == kUnluckyOffset ? 0 : 3;
}
