// Holds N device allocations at once and prints how much anonymous memory the
// process gained meanwhile (what the library's model of them costs, when it
// is preloaded) and how large the trace grew.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

long rss_anon_kib() {
  FILE* status = std::fopen("/proc/self/status", "r");
  if (!status) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, status)) {
    if (std::strncmp(line, "RssAnon:", 8) == 0) kib = std::strtol(line + 8, nullptr, 10);
  }
  std::fclose(status);
  return kib;
}

}  // namespace

int main(int argc, char** argv) {
  long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
  std::vector<void*> live(static_cast<size_t>(count));
  void* warm = nullptr;
  cudaMalloc(&warm, 1);  // runtime, context and library set up before measuring
  long before = rss_anon_kib();
  for (long i = 0; i < count; ++i) {
    if (cudaMalloc(&live[static_cast<size_t>(i)], 2 << 20) != cudaSuccess) {
      std::fprintf(stderr, "allocation %ld failed: raise FAKE_CUDA_TOTAL_MIB\n", i);
      return 1;
    }
  }
  long after = rss_anon_kib();
  std::printf("{\"allocations\": %ld, \"rss_anon_growth_bytes\": %ld}\n", count, (after - before) * 1024);
  return 0;
}
