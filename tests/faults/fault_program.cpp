// A CUDA program (runtime API, simulated device) that meets one fault per
// mode, run under liboomtrace.so by fault_tests.cpp. Every device
// allocation is 2 MiB (the simulated device's granule), so counts and bytes
// in the reports are exact.
#include <cuda_runtime_api.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <spawn.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

constexpr size_t kBlock = 2 << 20;
constexpr size_t kGiB = 1ull << 30;

void* must_malloc(size_t bytes = kBlock) {
  void* ptr = nullptr;
  cudaError_t result = cudaMalloc(&ptr, bytes);
  if (result != cudaSuccess) {
    std::fprintf(stderr, "unexpected cudaMalloc failure: %d\n", result);
    std::_Exit(90);
  }
  return ptr;
}

void allocate(int count) {
  for (int i = 0; i < count; ++i) must_malloc();
}

// How many copies of liboomtrace.so the process has loaded.
int copies_loaded() {
  int copies = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
        void* handle = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
        if (!handle) return 0;
        void* marker = dlsym(handle, "oomtrace_instance_marker");
        Dl_info where{};
        if (marker && dladdr(marker, &where) && where.dli_fname &&
            std::strcmp(where.dli_fname, info->dlpi_name) == 0) {
          ++*static_cast<int*>(data);
        }
        dlclose(handle);
        return 0;
      },
      &copies);
  return copies;
}

std::string self_path() {
  char path[4096];
  ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) std::_Exit(91);
  path[length] = '\0';
  return path;
}

void touch(const char* path) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd >= 0) ::close(fd);
}

// Allocates 1 + `count` blocks and frees one: the common "some work".
// With `show_copies`, also says how many copies of the library are loaded.
int allocate_mode(int count, bool show_copies) {
  void* first = must_malloc();
  allocate(count);
  cudaFree(first);
  std::printf("allocated %d", count + 1);
  if (show_copies) std::printf(" copies %d", copies_loaded());
  std::printf("\n");
  return 0;
}

// Enough alloc/free pairs to write several MiB of trace.
int churn(int pairs) {
  for (int i = 0; i < pairs; ++i) cudaFree(must_malloc());
  std::printf("churned %d\n", pairs);
  return 0;
}

// A ledger that outlives a SIGKILL: a file mapped shared, one slot per
// thread {tid, allocations returned}. A slot's count is raised only after
// cudaMalloc returned, so every allocation it counts had its trace record
// committed before the kill.
struct LedgerSlot {
  std::atomic<uint64_t> tid;
  std::atomic<uint64_t> allocations;
};

LedgerSlot* map_ledger(const char* path, int slots) {
  int fd = ::open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(sizeof(LedgerSlot) * slots)) != 0) std::_Exit(91);
  void* mapped = ::mmap(nullptr, sizeof(LedgerSlot) * slots, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (mapped == MAP_FAILED) std::_Exit(92);
  return static_cast<LedgerSlot*>(mapped);
}

// Threads allocate and free until the process is killed from outside; each
// keeps at most four blocks (frees before it allocates). READY_FILE appears
// once every thread has allocated `warmup` blocks. With a ledger file, each
// thread counts there what it allocated.
int threads_until_killed(int thread_count, const char* ready_file, const char* ledger_file = nullptr) {
  constexpr int kWarmup = 200;
  LedgerSlot* ledger = ledger_file ? map_ledger(ledger_file, thread_count) : nullptr;
  std::atomic<int> warmed{0};
  for (int t = 0; t < thread_count; ++t) {
    std::thread([&warmed, slot = ledger ? &ledger[t] : nullptr] {
      if (slot) slot->tid.store(static_cast<uint64_t>(syscall(SYS_gettid)), std::memory_order_release);
      std::deque<void*> held;
      for (int i = 0;; ++i) {
        if (held.size() == 4) {
          cudaFree(held.front());
          held.pop_front();
        }
        held.push_back(must_malloc());
        if (slot) slot->allocations.fetch_add(1, std::memory_order_release);
        if (i + 1 == kWarmup) ++warmed;
      }
    }).detach();
  }
  while (warmed.load() < thread_count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  touch(ready_file);
  for (;;) pause();
}

// Threads allocate (every other block freed) while the main thread forks
// `forks` children, each of which allocates 3 blocks and frees one. The
// parent's trace: 1 + threads * per_thread allocations, half of the
// threads' blocks freed.
int fork_while_threads_allocate(int thread_count, int per_thread, int forks) {
  must_malloc();  // the main thread's context exists before the first fork
  std::atomic<int> started{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < thread_count; ++t) {
    workers.emplace_back([&started, per_thread] {
      for (int i = 0; i < per_thread; ++i) {
        void* ptr = must_malloc();
        if (i == 0) ++started;
        if (i % 2 == 0) cudaFree(ptr);
      }
    });
  }
  while (started.load() < thread_count) std::this_thread::sleep_for(std::chrono::microseconds(100));
  int failures = 0;
  for (int f = 0; f < forks; ++f) {
    pid_t child = fork();
    if (child == 0) {
      void* a = must_malloc();
      allocate(2);
      cudaFree(a);
      std::exit(0);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      ++failures;
    }
  }
  for (auto& worker : workers) worker.join();
  std::printf("forks %d failures %d\n", forks, failures);
  return failures == 0 ? 0 : 1;
}

// A failure the report can explain, then a real fault (a write to a page
// that allows none: no sanitizer intercepts it as its own finding).
int segv() {
  must_malloc(300 << 20);
  void* ptr = nullptr;
  cudaMalloc(&ptr, 64 * kGiB);
  std::fflush(stdout);
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
  return 0;
}

// The same fault while other threads are inside CUDA calls (and may hold
// the recorder's lock): the handler must not wait for them.
int segv_while_threads(int thread_count) {
  std::atomic<int> running{0};
  for (int t = 0; t < thread_count; ++t) {
    std::thread([&running] {
      bool counted = false;
      for (;;) {
        cudaFree(must_malloc());
        if (!counted) {
          counted = true;
          ++running;
        }
      }
    }).detach();
  }
  while (running.load() < thread_count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
  return 0;
}

int abort_mode() {
  must_malloc(300 << 20);
  void* ptr = nullptr;
  cudaMalloc(&ptr, 64 * kGiB);
  std::fflush(stdout);
  std::abort();
}

int g_handler_exit_code = 0;
void exit_handler(int) { std::exit(g_handler_exit_code); }
void underscore_exit_handler(int) { _exit(g_handler_exit_code); }

void install(void (*handler)(int), int signal_number) {
  struct sigaction action{};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, nullptr);
}

// The program's own SIGTERM handler ends it with exit() or _exit().
int exit_from_handler(bool underscore, int code) {
  g_handler_exit_code = code;
  install(underscore ? &underscore_exit_handler : &exit_handler, SIGTERM);
  allocate_mode(4, false);
  void* ptr = nullptr;
  cudaMalloc(&ptr, 64 * kGiB);
  std::fflush(stdout);
  raise(SIGTERM);
  return 0;
}

// The handler runs on a thread that is inside a CUDA call (almost always:
// the loop does nothing else), possibly inside the recorder.
int exit_from_handler_inside_cuda(int code) {
  g_handler_exit_code = code;
  install(&exit_handler, SIGTERM);
  // The trace exists before the signal can come (a sanitized first call
  // takes longer than the killer's delay).
  cudaFree(must_malloc());
  std::printf("interrupting\n");
  std::fflush(stdout);
  pthread_t main_thread = pthread_self();
  std::thread([main_thread] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pthread_kill(main_thread, SIGTERM);
  }).detach();
  for (;;) cudaFree(must_malloc());
}

// Plants a symlink where the library will create this process's trace,
// pointing at VICTIM, then allocates 3 blocks.
int plant_symlink(const char* victim) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
  for (char* c = host; *c; ++c) {
    if (*c == '/' || *c == '\\' || *c == ' ') *c = '_';
  }
  const char* dir = std::getenv("OOMTRACE_DIR");
  // The library names a rank of a distributed job (a suite run inside a
  // Slurm allocation inherits SLURM_PROCID): plant where it will write.
  std::string rank;
  for (const char* name : {"RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "JOB_COMPLETION_INDEX"}) {
    const char* value = std::getenv(name);
    if (value && *value && std::strspn(value, "0123456789") == std::strlen(value)) {
      rank = std::string("rank") + value + ".";
      break;
    }
  }
  std::string planted = std::string(dir ? dir : ".") + "/oomtrace." + host + "." + rank +
                        std::to_string(getpid()) + ".trace";
  if (symlink(victim, planted.c_str()) != 0) return 93;
  allocate(3);
  std::printf("planted %s\n", planted.c_str());
  return 0;
}

int underscore_exit() {
  allocate_mode(4, false);
  std::fflush(stdout);
  _exit(4);
}

// Started by exec/spawn: reports what it was given and allocates 3 blocks.
int exec_child() {
  const char* preload = std::getenv("LD_PRELOAD");
  allocate(3);
  std::printf("child LD_PRELOAD=%s\n", preload ? preload : "(unset)");
  return 0;
}

int spawned(pid_t child) {
  int status = 0;
  if (child <= 0 || waitpid(child, &status, 0) != child) return 92;
  std::printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

// Allocates 2 blocks, then starts `fault_program exec_child` through `how`.
int exec_mode(const std::string& how) {
  allocate(2);
  std::fflush(stdout);
  std::string self = self_path();
  std::string command = self + " exec_child";
  char mode[] = "exec_child";
  char* argv[] = {const_cast<char*>(self.c_str()), mode, nullptr};
  if (how == "execve") execve(self.c_str(), argv, environ);
  if (how == "execv") execv(self.c_str(), argv);
  if (how == "execvp") execvp(self.c_str(), argv);
  if (how == "execvpe") execvpe(self.c_str(), argv, environ);
  if (how == "execl") execl(self.c_str(), self.c_str(), mode, static_cast<char*>(nullptr));
  if (how == "execlp") execlp(self.c_str(), self.c_str(), mode, static_cast<char*>(nullptr));
  if (how == "execle") {
    execle(self.c_str(), self.c_str(), mode, static_cast<char*>(nullptr), environ);
  }
  if (how == "fexecve") {
    int fd = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
    fexecve(fd, argv, environ);
  }
  if (how == "execveat") execveat(AT_FDCWD, self.c_str(), argv, environ, 0);
  if (how == "posix_spawn" || how == "posix_spawnp") {
    pid_t child = 0;
    int error = how == "posix_spawn"
                    ? posix_spawn(&child, self.c_str(), nullptr, nullptr, argv, environ)
                    : posix_spawnp(&child, self.c_str(), nullptr, nullptr, argv, environ);
    if (error != 0) return 93;
    return spawned(child);
  }
  if (how == "system") {
    std::printf("system %d\n", std::system(command.c_str()));
    return 0;
  }
  if (how == "popen") {
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return 94;
    char line[4096];
    while (std::fgets(line, sizeof line, pipe)) std::fputs(line, stdout);
    std::printf("popen %d\n", pclose(pipe));
    return 0;
  }
  if (how == "vfork") {
    // While another thread allocates: the vforked child shares the parent's
    // memory and must not touch the recorder or the heap.
    std::atomic<bool> stop{false};
    std::thread busy([&stop] {
      while (!stop.load()) cudaFree(must_malloc());
    });
    pid_t child = vfork();
    if (child == 0) {
      execv(self.c_str(), argv);
      _exit(127);
    }
    int result = spawned(child);
    stop = true;
    busy.join();
    return result;
  }
  std::fprintf(stderr, "exec %s failed or unknown: %s\n", how.c_str(), std::strerror(errno));
  return 95;
}

// A second copy of the library, dlopen()ed by the program itself.
int dlopen_copy(const char* path) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    std::fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    return 96;
  }
  return allocate_mode(2, true);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  auto number = [&](int index, int fallback) { return argc > index ? std::atoi(argv[index]) : fallback; };
  if (mode == "allocate") return allocate_mode(number(2, 2), false);
  if (mode == "allocate_copies") return allocate_mode(number(2, 2), true);
  if (mode == "churn") return churn(number(2, 1000));
  if (mode == "threads_until_killed" && argc > 3) return threads_until_killed(number(2, 8), argv[3]);
  if (mode == "threads_with_ledger" && argc > 4) return threads_until_killed(number(2, 8), argv[3], argv[4]);
  if (mode == "fork_threads") return fork_while_threads_allocate(number(2, 8), number(3, 200), number(4, 5));
  if (mode == "segv") return segv();
  if (mode == "segv_while_threads") return segv_while_threads(number(2, 4));
  if (mode == "abort") return abort_mode();
  if (mode == "exit_in_handler") return exit_from_handler(false, number(2, 7));
  if (mode == "_exit_in_handler") return exit_from_handler(true, number(2, 7));
  if (mode == "exit_in_handler_inside_cuda") return exit_from_handler_inside_cuda(number(2, 7));
  if (mode == "_exit") return underscore_exit();
  if (mode == "exec" && argc > 2) return exec_mode(argv[2]);
  if (mode == "exec_child") return exec_child();
  if (mode == "dlopen_copy" && argc > 2) return dlopen_copy(argv[2]);
  if (mode == "plant_symlink" && argc > 2) return plant_symlink(argv[2]);
  if (mode == "nothing") return 0;
  std::fprintf(stderr, "usage: fault_program MODE [ARGS]\n");
  return 2;
}
