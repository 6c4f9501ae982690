// A CUDA program through the runtime API, as an application would write it;
// run end to end under liboomtrace.so by scenario_tests.cpp. Each mode is one
// situation the library must get right. Prints what the calls returned, so
// the pass-through test can diff runs with and without the library.
// PyTorch still calls the deprecated cudaGetDriverEntryPoint; so do we.
#define CUDA_ENABLE_DEPRECATED 1
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

// Declared by cuda_runtime_api.h only under CUDA_API_PER_THREAD_DEFAULT_STREAM.
extern "C" cudaError_t cudaMallocAsync_ptsz(void** devPtr, size_t size, cudaStream_t stream);
extern "C" cudaError_t cudaFreeAsync_ptsz(void* devPtr, cudaStream_t stream);

namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kGiB = 1ull << 30;

void* must_malloc(size_t bytes) {
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, bytes);
  if (result != cudaSuccess) {
    std::fprintf(stderr, "unexpected cudaMalloc failure: %d\n", result);
    std::exit(90);
  }
  return ptr;
}

// Allocates 1 GiB blocks until the device says no; returns what it holds.
std::vector<void*> fill_device() {
  std::vector<void*> held;
  for (;;) {
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, kGiB) != cudaSuccess) break;
    held.push_back(ptr);
  }
  return held;
}

int exhausted() {
  fill_device();
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, 2 * kGiB);
  std::printf("final cudaMalloc: %d\n", result);
  return result == cudaErrorMemoryAllocation ? 1 : 0;
}

int exceeds_capacity() {
  must_malloc(256 * kMiB);
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, 64 * kGiB);
  std::printf("huge cudaMalloc: %d\n", result);
  return 1;
}

int recovered() {
  std::vector<void*> held = fill_device();
  for (size_t i = 0; i < 3 && !held.empty(); ++i) {
    cudaFree(held.back());
    held.pop_back();
  }
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, kGiB);
  std::printf("retry after freeing: %d\n", result);
  return result == cudaSuccess ? 0 : 1;
}

int kill_after_100() {
  for (int i = 0; i < 100; ++i) must_malloc(4 * kMiB);
  std::fflush(stdout);
  raise(SIGKILL);
  return 0;
}

int pinned_and_managed() {
  void* host = nullptr;
  void* host2 = nullptr;
  void* managed = nullptr;
  cudaMallocHost(&host, 64 * kMiB);
  cudaHostAlloc(&host2, 32 * kMiB, cudaHostAllocDefault);
  cudaMallocManaged(&managed, 8 * kMiB, cudaMemAttachGlobal);
  std::memset(host, 1, 64 * kMiB);  // host memory must be real memory
  must_malloc(100 * kMiB);
  cudaFreeHost(host2);
  void* pitched = nullptr;
  size_t pitch = 0;
  cudaMallocPitch(&pitched, &pitch, 1000, 100);
  cudaPitchedPtr cube{};
  cudaMalloc3D(&cube, cudaExtent{1000, 10, 10});
  std::printf("pitch %zu cube pitch %zu\n", pitch, cube.pitch);
  return 0;
}

int stream_ordered() {
  cudaStream_t stream = nullptr;
  cudaStreamCreate(&stream);
  void* a = nullptr;
  void* b = nullptr;
  void* c = nullptr;
  cudaMallocAsync(&a, 10 * kMiB, stream);
  cudaMallocAsync_ptsz(&b, 20 * kMiB, stream);
  cudaMemPool_t pool = nullptr;
  cudaDeviceGetDefaultMemPool(&pool, 0);
  cudaMallocFromPoolAsync(&c, 30 * kMiB, pool, stream);
  cudaFreeAsync(a, stream);
  cudaFreeAsync_ptsz(b, stream);
  // c stays live: the report must show it.
  void* too_big = nullptr;
  cudaError_t result = cudaMallocAsync(&too_big, 64 * kGiB, stream);
  std::printf("oversized cudaMallocAsync: %d\n", result);
  return 0;
}

int several_devices() {
  int count = 0;
  cudaGetDeviceCount(&count);
  for (int device = 0; device < count; ++device) {
    cudaSetDevice(device);
    must_malloc((device + 1) * 100 * kMiB);
  }
  std::printf("devices %d\n", count);
  return 0;
}

int threads(int thread_count, int per_thread) {
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < thread_count; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        void* ptr = nullptr;
        if (cudaMalloc(&ptr, static_cast<size_t>(1 + (t + i) % 3) * kMiB) != cudaSuccess) {
          ++failures;
          continue;
        }
        if (i % 2 == 0) cudaFree(ptr);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::printf("failures %d\n", failures.load());
  return failures.load() == 0 ? 0 : 1;
}

int fork_both_allocate() {
  for (int i = 0; i < 3; ++i) must_malloc(10 * kMiB);
  pid_t child = fork();
  if (child == 0) {
    void* a = must_malloc(20 * kMiB);
    must_malloc(20 * kMiB);
    cudaFree(a);
    std::exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  must_malloc(10 * kMiB);
  std::printf("child %d status %d\n", child, status);
  return 0;
}

int terminated_by_sigterm() {
  must_malloc(300 * kMiB);
  void* ptr = nullptr;
  cudaMalloc(&ptr, 64 * kGiB);
  raise(SIGTERM);
  return 0;
}

int uncaught_exception() {
  must_malloc(300 * kMiB);
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, 64 * kGiB) != cudaSuccess) throw std::runtime_error("CUDA out of memory");
  return 0;
}

int exit_from_failure_handler() {
  fill_device();
  void* ptr = nullptr;
  if (cudaMalloc(&ptr, kGiB) == cudaErrorMemoryAllocation) {
    std::fprintf(stderr, "out of memory, giving up\n");
    std::exit(3);
  }
  return 0;
}

// PyTorch's expandable segments reach the driver's virtual-memory functions
// through cudaGetDriverEntryPointByVersion (cudaGetDriverEntryPoint before).
int entry_points() {
  must_malloc(kMiB);  // the runtime creates its context
  cudaDriverEntryPointQueryResult status{};
  void* reserve = nullptr;
  void* create = nullptr;
  void* map = nullptr;
  void* mem_alloc = nullptr;
  cudaGetDriverEntryPointByVersion("cuMemAddressReserve", &reserve, 12000, cudaEnableDefault, &status);
  cudaGetDriverEntryPointByVersion("cuMemCreate", &create, 12000, cudaEnableDefault, &status);
  cudaGetDriverEntryPointByVersion("cuMemMap", &map, 12000, cudaEnableDefault, &status);
  cudaGetDriverEntryPoint("cuMemAlloc", &mem_alloc, cudaEnableDefault, &status);
  if (!reserve || !create || !map || !mem_alloc) return 93;

  using Reserve = CUresult (*)(CUdeviceptr*, size_t, size_t, CUdeviceptr, unsigned long long);
  using Create = CUresult (*)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*,
                              unsigned long long);
  using Map = CUresult (*)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle,
                           unsigned long long);
  using MemAlloc = CUresult (*)(CUdeviceptr*, size_t);
  CUdeviceptr range = 0;
  reinterpret_cast<Reserve>(reserve)(&range, 4 * kGiB, 0, 0, 0);
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  for (int page = 0; page < 5; ++page) {
    CUmemGenericAllocationHandle handle = 0;
    reinterpret_cast<Create>(create)(&handle, 20 * kMiB, &prop, 0);
    reinterpret_cast<Map>(map)(range + page * 20 * kMiB, 20 * kMiB, 0, handle, 0);
  }
  CUdeviceptr plain = 0;
  reinterpret_cast<MemAlloc>(mem_alloc)(&plain, 50 * kMiB);
  CUmemGenericAllocationHandle too_big = 0;
  CUresult result = reinterpret_cast<Create>(create)(&too_big, 64 * kGiB, &prop, 0);
  std::printf("oversized cuMemCreate: %d\n", result);
  return 0;
}

// A long mixed sequence whose every result is printed.
int pass_through() {
  std::vector<void*> live;
  unsigned state = 12345;
  for (int step = 0; step < 3000; ++step) {
    state = state * 1103515245u + 12345u;
    unsigned choice = (state >> 16) % 10;
    void* ptr = nullptr;
    errno = 1000 + step;  // errno must come back exactly as the call left it
    cudaError_t result = cudaSuccess;
    bool host = false;  // host pointers come from mmap: not comparable across runs
    if (choice < 4 || live.empty()) {
      size_t bytes = static_cast<size_t>((state >> 8) % 4096) * kMiB / 8;
      result = cudaMalloc(&ptr, bytes);
      if (result == cudaSuccess && ptr) live.push_back(ptr);
    } else if (choice < 6) {
      result = cudaMallocHost(&ptr, 1 * kMiB);
      if (result == cudaSuccess) result = cudaFreeHost(ptr);
      host = true;
    } else if (choice < 7) {
      result = cudaMallocAsync(&ptr, 3 * kMiB, nullptr);
      if (result == cudaSuccess) result = cudaFreeAsync(ptr, nullptr);
    } else if (choice < 8) {
      result = cudaFree(reinterpret_cast<void*>(0x1234));  // not ours: an error
    } else {
      ptr = live.back();
      live.pop_back();
      result = cudaFree(ptr);
    }
    int error_number = errno;
    std::printf("%d %d %p %d\n", step, result, host ? nullptr : ptr, error_number);
  }
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  std::printf("end %zu %zu\n", free_bytes, total_bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "exhausted") return exhausted();
  if (mode == "exceeds_capacity") return exceeds_capacity();
  if (mode == "recovered") return recovered();
  if (mode == "kill_after_100") return kill_after_100();
  if (mode == "pinned_and_managed") return pinned_and_managed();
  if (mode == "stream_ordered") return stream_ordered();
  if (mode == "several_devices") return several_devices();
  if (mode == "threads") return threads(argc > 2 ? std::atoi(argv[2]) : 64, argc > 3 ? std::atoi(argv[3]) : 100);
  if (mode == "fork") return fork_both_allocate();
  if (mode == "sigterm") return terminated_by_sigterm();
  if (mode == "uncaught_exception") return uncaught_exception();
  if (mode == "exit_in_handler") return exit_from_failure_handler();
  if (mode == "entry_points") return entry_points();
  if (mode == "pass_through") return pass_through();
  if (mode == "nothing") return 0;
  std::fprintf(stderr, "usage: scenario_runtime MODE\n");
  return 2;
}
