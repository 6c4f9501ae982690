// A long-running CUDA program for `oomtrace attach` to join. It is started
// without the library, holds memory before anyone attaches, says "ready",
// and waits for the test to create a file before it goes on:
//
//   attach_target grow    BASELINE_MIB GO_FILE        allocate 256 MiB blocks until one fails
//   attach_target idle    BASELINE_MIB STOP_FILE      allocate and free 1 MiB every 10 ms until STOP_FILE
//   attach_target threads THREADS STOP_FILE           each thread allocates and frees, sizes counting up
//   attach_target late    MODULE GO_FILE              dlopen MODULE after GO_FILE and let it allocate
//   attach_target pointer BASELINE_MIB GO_FILE        allocate through a driver pointer resolved at start
//
// Every mode ends with exit code 0 and prints what it did, for the test to
// hold against the report.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

constexpr size_t kMiB = 1 << 20;

bool exists(const char* path) {
  struct stat info{};
  return ::stat(path, &info) == 0;
}

void wait_for(const char* path) {
  while (!exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void say_ready() {
  std::printf("ready %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);
}

void* allocate_or_die(size_t bytes) {
  void* pointer = nullptr;
  if (cudaMalloc(&pointer, bytes) != cudaSuccess) {
    std::fprintf(stderr, "attach_target: the baseline allocation of %zu bytes failed\n", bytes);
    std::exit(3);
  }
  return pointer;
}

int grow(size_t baseline_mib, const char* go_file) {
  void* baseline = allocate_or_die(baseline_mib * kMiB);
  say_ready();
  wait_for(go_file);
  std::vector<void*> blocks;
  void* block = nullptr;
  while (cudaMalloc(&block, 256 * kMiB) == cudaSuccess) blocks.push_back(block);
  std::printf("oom after %zu blocks\n", blocks.size());
  for (void* held : blocks) cudaFree(held);
  cudaFree(baseline);
  return 0;
}

int idle(size_t baseline_mib, const char* stop_file) {
  allocate_or_die(baseline_mib * kMiB);
  say_ready();
  long rounds = 0;
  while (!exists(stop_file)) {
    void* block = allocate_or_die(kMiB);
    cudaFree(block);
    ++rounds;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("rounds %ld\n", rounds);
  return 0;
}

// Each thread allocates 4 KiB * (1 + n % 64) + n for its n-th call, so the
// report's sizes say which call each event was: a trace must hold, per
// thread, one unbroken run of calls, none twice and none missing.
int threads(int count, const char* stop_file) {
  cudaFree(nullptr);  // the context, before "ready"
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  std::vector<long> calls(static_cast<size_t>(count), 0);
  for (int t = 0; t < count; ++t) {
    workers.emplace_back([&, t] {
      for (long n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        void* block = nullptr;
        size_t bytes = 4096 * (1 + n % 64) + static_cast<size_t>(n);
        if (cudaMalloc(&block, bytes) == cudaSuccess) cudaFree(block);
        calls[static_cast<size_t>(t)] = n + 1;
        if (n % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  say_ready();
  wait_for(stop_file);
  stop = true;
  for (std::thread& worker : workers) worker.join();
  long total = 0;
  for (long n : calls) total += n;
  std::printf("calls %ld\n", total);
  return 0;
}

int late(const char* module, const char* go_file) {
  cudaFree(nullptr);
  say_ready();
  wait_for(go_file);
  void* handle = dlopen(module, RTLD_NOW);
  if (!handle) {
    std::fprintf(stderr, "attach_target: %s\n", dlerror());
    return 4;
  }
  auto* allocate = reinterpret_cast<int (*)(size_t)>(dlsym(handle, "late_module_allocate"));
  int result = allocate ? allocate(64 * kMiB) : -1;
  std::printf("late module allocated: %d\n", result);
  return 0;
}

int pointer(size_t baseline_mib, const char* go_file) {
  allocate_or_die(baseline_mib * kMiB);
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  auto* resolved = driver ? reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(
                                dlsym(driver, "cuMemAlloc_v2"))
                          : nullptr;
  if (!resolved) return 5;
  say_ready();
  wait_for(go_file);
  CUdeviceptr through_pointer = 0;
  CUresult result = resolved(&through_pointer, 128 * kMiB);
  allocate_or_die(64 * kMiB);
  std::printf("through pointer: %d\n", static_cast<int>(result));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: attach_target MODE ARG FILE\n");
    return 2;
  }
  std::string mode = argv[1];
  if (mode == "grow") return grow(std::strtoul(argv[2], nullptr, 10), argv[3]);
  if (mode == "idle") return idle(std::strtoul(argv[2], nullptr, 10), argv[3]);
  if (mode == "threads") return threads(std::atoi(argv[2]), argv[3]);
  if (mode == "late") return late(argv[2], argv[3]);
  if (mode == "pointer") return pointer(std::strtoul(argv[2], nullptr, 10), argv[3]);
  std::fprintf(stderr, "attach_target: unknown mode %s\n", mode.c_str());
  return 2;
}
