// A program started through exec runs without liboomtrace.so unless
// OOMTRACE_FOLLOW_EXEC=1: each exec function passes on an environment whose
// LD_PRELOAD no longer names any copy of the library (other preloads stay,
// in order; an LD_PRELOAD left empty is dropped). The caller's environ and
// its strings are never modified: the new environment is built on the stack.
//
// glibc's exec functions other than execve reach execve through an internal
// alias, not through the PLT, so interposing execve alone misses execvp,
// execl and posix_spawn. Hooked here: execve, execv, execvp, execvpe, execl,
// execle, execlp, fexecve, execveat, posix_spawn, posix_spawnp. system(),
// popen() and wordexp() start /bin/sh with the program's environment; the
// shell runs with the library (and writes nothing, as it allocates no GPU
// memory) and its own exec of the command comes through these hooks.
//
// exec may be called in a vforked child, which shares the parent's memory,
// or from a signal handler: nothing here allocates, locks or touches the
// recorder; the real functions are resolved by the constructor below. When
// the new environment does not fit the fixed buffers, it is passed on
// unchanged (the new program is then traced).
//
// With OOMTRACE_FOLLOW_EXEC=1 (read from the environment handed to the new
// program) the environment passes unchanged: the new program loads the
// library afresh and writes its own trace (same pid, so the file name gets
// the next free suffix: oomtrace.<host>.<pid>.1.trace). The trace of the
// program that called exec ends there without a trailer, as after SIGKILL:
// `oomtrace report TRACE` (or `oomtrace run`) writes its report.
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpose/export.h"
#include "interpose/instance_guard.h"
#include "interpose/symbol_resolution.h"

extern char** environ;

namespace {

using namespace oomtrace::interpose;

enum Real : int { kExecve, kExecvpe, kFexecve, kExecveat, kPosixSpawn, kPosixSpawnp, kRealCount };
constexpr const char* kRealNames[kRealCount] = {"execve",   "execvpe",     "fexecve",
                                                "execveat", "posix_spawn", "posix_spawnp"};
std::atomic<void*> g_real[kRealCount];

void* resolve(Real which) {
  void* found = g_real[which].load(std::memory_order_acquire);
  if (found) return found;
  // Only before the constructor ran (an exec from another library's
  // constructor): not signal-safe, but nothing else is possible then.
  found = find_real_symbol(kRealNames[which], false);
  if (found) g_real[which].store(found, std::memory_order_release);
  return found;
}

template <typename Function>
Function* real(Real which) {
  return reinterpret_cast<Function*>(resolve(which));
}

// Everything an exec may need is ready before the program runs: the real
// functions and the list of the library's copies (instance_guard.h).
__attribute__((constructor)) void prepare_exec_hooks() {
  this_instance_records();
  for (int which = 0; which < kRealCount; ++which) resolve(static_cast<Real>(which));
}

constexpr size_t kMaxEntries = 1024;
constexpr size_t kMaxPreloadBytes = 4096;
constexpr char kPreloadPrefix[] = "LD_PRELOAD=";
constexpr char kFollowPrefix[] = "OOMTRACE_FOLLOW_EXEC=";

// The new program's environment, when it differs from the one given.
struct NewEnvironment {
  char* entries[kMaxEntries + 1];
  char text[kMaxPreloadBytes];
};

bool starts_with(const char* text, const char* prefix, size_t prefix_length) {
  return std::strncmp(text, prefix, prefix_length) == 0;
}

// The values config.cpp accepts as "on".
bool is_on(const char* value) {
  return std::strcmp(value, "1") == 0 || std::strcmp(value, "true") == 0 ||
         std::strcmp(value, "on") == 0 || std::strcmp(value, "yes") == 0;
}

const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// An LD_PRELOAD entry naming a copy of the library: the loader's own name
// for it, the same file under another spelling, or (for an entry without a
// slash, which the loader searches for) the same file name.
bool names_an_instance(const char* entry) {
  const InstanceFile* files = nullptr;
  size_t count = instance_files(&files);
  bool has_slash = std::strchr(entry, '/') != nullptr;
  struct stat status{};
  bool known = has_slash && ::stat(entry, &status) == 0;
  for (size_t i = 0; i < count; ++i) {
    const InstanceFile& file = files[i];
    if (std::strcmp(entry, file.path) == 0) return true;
    if (known && file.inode != 0 && status.st_dev == file.device && status.st_ino == file.inode) {
      return true;
    }
    if (!has_slash && std::strcmp(entry, base_name(file.path)) == 0) return true;
  }
  return false;
}

// Rewrites one LD_PRELOAD=... entry into out->text from *used on, without
// the library's copies. Returns false when it does not fit. *removed tells
// whether anything was dropped, *kept whether any entry is left.
bool rewrite_preload(const char* variable, NewEnvironment* out, size_t* used, bool* removed,
                     bool* kept) {
  constexpr size_t kPrefixLength = sizeof kPreloadPrefix - 1;
  size_t at = *used;
  if (at + kPrefixLength >= kMaxPreloadBytes) return false;
  std::memcpy(out->text + at, kPreloadPrefix, kPrefixLength);
  at += kPrefixLength;
  *removed = false;
  *kept = false;
  // The loader splits LD_PRELOAD at spaces and colons.
  const char* cursor = variable + kPrefixLength;
  while (*cursor) {
    while (*cursor == ':' || *cursor == ' ') ++cursor;
    if (!*cursor) break;
    size_t length = std::strcspn(cursor, ": ");
    size_t start = at + (*kept ? 1 : 0);
    if (start + length + 1 > kMaxPreloadBytes) return false;
    std::memcpy(out->text + start, cursor, length);
    out->text[start + length] = '\0';
    if (names_an_instance(out->text + start)) {
      *removed = true;
    } else {
      if (*kept) out->text[at] = ':';
      at = start + length;
      *kept = true;
    }
    cursor += length;
  }
  if (at + 1 > kMaxPreloadBytes) return false;
  out->text[at++] = '\0';
  *used = at;
  return true;
}

// The environment to hand to the new program: `envp` itself when the
// program is to be followed, when LD_PRELOAD names no copy of the library,
// in a copy that only passes calls through, or when the result would not
// fit; otherwise out->entries.
char* const* environment_for(char* const* envp, NewEnvironment* out) {
  if (!envp || !this_instance_records()) return envp;
  size_t count = 0;
  bool has_preload = false;
  for (; envp[count]; ++count) {
    const char* entry = envp[count];
    if (starts_with(entry, kPreloadPrefix, sizeof kPreloadPrefix - 1)) has_preload = true;
    if (starts_with(entry, kFollowPrefix, sizeof kFollowPrefix - 1) &&
        is_on(entry + sizeof kFollowPrefix - 1)) {
      return envp;
    }
  }
  if (!has_preload || count > kMaxEntries) return envp;
  size_t used = 0;
  size_t kept_entries = 0;
  bool changed = false;
  for (size_t i = 0; i < count; ++i) {
    char* entry = envp[i];
    if (!starts_with(entry, kPreloadPrefix, sizeof kPreloadPrefix - 1)) {
      out->entries[kept_entries++] = entry;
      continue;
    }
    size_t start = used;
    bool removed = false;
    bool kept = false;
    if (!rewrite_preload(entry, out, &used, &removed, &kept)) return envp;
    if (!removed) {
      // Untouched: the original string, byte for byte.
      used = start;
      out->entries[kept_entries++] = entry;
    } else {
      changed = true;
      if (kept) out->entries[kept_entries++] = out->text + start;
    }
  }
  out->entries[kept_entries] = nullptr;
  return changed ? out->entries : envp;
}

// stat() in the checks may set errno; the program sees only what the real
// call sets.
class KeepErrno {
 public:
  KeepErrno() : saved_(errno) {}
  ~KeepErrno() { errno = saved_; }
  KeepErrno(const KeepErrno&) = delete;
  KeepErrno& operator=(const KeepErrno&) = delete;

 private:
  int saved_;
};

char* const* filtered(char* const* envp, NewEnvironment* out) {
  KeepErrno keep;
  return environment_for(envp, out);
}

int missing() {
  errno = ENOSYS;
  return -1;
}

}  // namespace

OOMTRACE_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  auto* function = real<decltype(::execve)>(kExecve);
  if (!function) return missing();
  NewEnvironment buffer;
  return function(path, argv, filtered(envp, &buffer));
}

OOMTRACE_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  auto* function = real<decltype(::execvpe)>(kExecvpe);
  if (!function) return missing();
  NewEnvironment buffer;
  return function(file, argv, filtered(envp, &buffer));
}

OOMTRACE_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  auto* function = real<decltype(::fexecve)>(kFexecve);
  if (!function) return missing();
  NewEnvironment buffer;
  return function(fd, argv, filtered(envp, &buffer));
}

OOMTRACE_EXPORT int execveat(int dirfd, const char* path, char* const argv[],
                             char* const envp[], int flags) noexcept {
  auto* function = real<decltype(::execveat)>(kExecveat);
  if (!function) return missing();
  NewEnvironment buffer;
  return function(dirfd, path, argv, filtered(envp, &buffer), flags);
}

// What glibc does for each of these: the same call with environ.
OOMTRACE_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  return execve(path, argv, environ);
}

OOMTRACE_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  return execvpe(file, argv, environ);
}

// The variadic forms collect their arguments on the stack, as glibc does.
#define OOMTRACE_COLLECT_ARGUMENTS(first)                                          \
  va_list arguments;                                                              \
  va_start(arguments, first);                                                     \
  size_t count = 1;                                                               \
  while (va_arg(arguments, const char*)) ++count;                                 \
  va_end(arguments);                                                              \
  char** argv = static_cast<char**>(__builtin_alloca((count + 1) * sizeof(char*))); \
  argv[0] = const_cast<char*>(first);                                             \
  va_start(arguments, first);                                                     \
  for (size_t i = 1; i <= count; ++i) argv[i] = va_arg(arguments, char*);

OOMTRACE_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  OOMTRACE_COLLECT_ARGUMENTS(arg)
  va_end(arguments);
  return execve(path, argv, environ);
}

OOMTRACE_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  OOMTRACE_COLLECT_ARGUMENTS(arg)
  va_end(arguments);
  return execvpe(file, argv, environ);
}

OOMTRACE_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  OOMTRACE_COLLECT_ARGUMENTS(arg)
  char* const* envp = va_arg(arguments, char* const*);
  va_end(arguments);
  return execve(path, argv, envp);
}

#undef OOMTRACE_COLLECT_ARGUMENTS

// posix_spawn runs in the parent; the child it starts execs with the
// environment given here.
OOMTRACE_EXPORT int posix_spawn(pid_t* pid, const char* path,
                                const posix_spawn_file_actions_t* file_actions,
                                const posix_spawnattr_t* attributes, char* const argv[],
                                char* const envp[]) {
  auto* function = real<decltype(::posix_spawn)>(kPosixSpawn);
  if (!function) return ENOSYS;
  NewEnvironment buffer;
  return function(pid, path, file_actions, attributes, argv, filtered(envp, &buffer));
}

OOMTRACE_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                                 const posix_spawn_file_actions_t* file_actions,
                                 const posix_spawnattr_t* attributes, char* const argv[],
                                 char* const envp[]) {
  auto* function = real<decltype(::posix_spawnp)>(kPosixSpawnp);
  if (!function) return ENOSYS;
  NewEnvironment buffer;
  return function(pid, file, file_actions, attributes, argv, filtered(envp, &buffer));
}
