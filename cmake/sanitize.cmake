# OOMTRACE_SANITIZE=address|thread builds the project's own code (library,
# CLI, tests, simulated device) with AddressSanitizer + UndefinedBehavior-
# Sanitizer, or with ThreadSanitizer. scripts/test.sh --sanitize builds and
# tests both variants (build-asan, build-tsan) after the normal run.
#
# Test programs run with a sanitized liboomtrace.so preloaded, which needs
# the sanitizer's runtime loaded before the C library: the fault tests put
# it first in LD_PRELOAD (OOMTRACE_SANITIZER_RUNTIME, found here); the
# options ctest gives every test (below) let the other tests preload the
# library just ahead of the runtime that sanitized programs link.
set(OOMTRACE_SANITIZE "" CACHE STRING
    "Sanitized build: address (ASan + UBSan), thread (TSan), or empty for none")
set_property(CACHE OOMTRACE_SANITIZE PROPERTY STRINGS "" address thread)
if(OOMTRACE_SANITIZE STREQUAL "")
  return()
endif()
if(OOMTRACE_FUZZ)
  message(FATAL_ERROR "OOMTRACE_SANITIZE and OOMTRACE_FUZZ (which sanitizes on its own) exclude each other")
endif()

if(OOMTRACE_SANITIZE STREQUAL "address")
  # A finding of UBSan stops the program, as one of ASan does.
  set(sanitizer_flags -fsanitize=address,undefined -fno-sanitize-recover=undefined)
  set(sanitizer_name asan)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12+ warns falsely inside libstdc++'s <regex> under -O1 with ASan
    # (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105616).
    list(APPEND sanitizer_flags -Wno-maybe-uninitialized)
  endif()
elseif(OOMTRACE_SANITIZE STREQUAL "thread")
  set(sanitizer_flags -fsanitize=thread)
  set(sanitizer_name tsan)
else()
  message(FATAL_ERROR "OOMTRACE_SANITIZE must be address, thread or empty, not '${OOMTRACE_SANITIZE}'")
endif()
list(APPEND sanitizer_flags -fno-omit-frame-pointer)

# The runtime as a shared library, one copy for a program and the libraries
# preloaded into it (GCC's default; clang links it statically otherwise).
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND sanitizer_flags -shared-libsan)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-runtime-dir
                  OUTPUT_VARIABLE runtime_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(OOMTRACE_SANITIZER_RUNTIME
      ${runtime_dir}/libclang_rt.${sanitizer_name}-${CMAKE_SYSTEM_PROCESSOR}.so)
else()
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=lib${sanitizer_name}.so
                  OUTPUT_VARIABLE OOMTRACE_SANITIZER_RUNTIME OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
if(NOT IS_ABSOLUTE "${OOMTRACE_SANITIZER_RUNTIME}" OR NOT EXISTS "${OOMTRACE_SANITIZER_RUNTIME}")
  message(FATAL_ERROR "${OOMTRACE_SANITIZE} sanitizer: runtime library not found "
                      "('${OOMTRACE_SANITIZER_RUNTIME}'); install the compiler's sanitizer runtime")
endif()
message(STATUS "oomtrace: ${OOMTRACE_SANITIZE} sanitizer, runtime ${OOMTRACE_SANITIZER_RUNTIME}")
add_compile_options(${sanitizer_flags})
add_link_options(${sanitizer_flags})

# Options for every test and every process a test starts, set in ctest's
# own environment (a TEST_INCLUDE_FILES script runs before the tests).
#  handle_segv/sigbus/sigfpe=0: the library's handlers (and programs' own)
#    must run as they do without a sanitizer; the fault tests check that a
#    crash still writes the report.
#  intercept_tls_get_addr=0: GCC 12's runtime (and LLVM's up to 16) guesses
#    that a dynamic TLS block whose address is 16 mod 4096 carries a glibc
#    2.19 header and reads a range to scan from the 16 bytes before it, which
#    since glibc 2.25 are ASan's chunk header: LeakSanitizer's tracer then
#    dies with "Tracer caught signal 11" at exit, only where the block of
#    the simulated driver's thread_locals happens to land there (CI did;
#    https://github.com/google/sanitizers/issues/1322). Dynamic TLS blocks
#    are malloc()ed chunks that LeakSanitizer still finds through the DTV;
#    tests/sanitizers/dynamic_tls_program.cpp forces the unlucky address.
#  verify_asan_link_order=0: `oomtrace run` and the scenario harness put
#    liboomtrace.so first in LD_PRELOAD, ahead of the ASan runtime that the
#    sanitized program links; the runtime still comes before the C library.
set(suppressions ${PROJECT_SOURCE_DIR}/tests/sanitizers)
set(common_options "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:intercept_tls_get_addr=0")
set(environment_file ${CMAKE_BINARY_DIR}/sanitizer_test_environment.cmake)
file(WRITE ${environment_file}
  "set(ENV{OOMTRACE_SANITIZE} \"${OOMTRACE_SANITIZE}\")\n"
  "set(ENV{ASAN_OPTIONS} \"${common_options}:verify_asan_link_order=0:detect_leaks=1\")\n"
  "set(ENV{LSAN_OPTIONS} \"suppressions=${suppressions}/lsan.supp:print_suppressions=0\")\n"
  "set(ENV{UBSAN_OPTIONS} \"print_stacktrace=1:halt_on_error=1\")\n"
  "set(ENV{TSAN_OPTIONS} \"${common_options}:suppressions=${suppressions}/tsan.supp:print_suppressions=0\")\n")
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${environment_file})
