// Starts the Python bridge in a process `oomtrace attach` joined, from the
// library's own thread (python_attach.h).
//
// The library never links libpython: the process may have no interpreter,
// or one of any 3.x release. The few C API functions needed are looked up
// where this process has them (python_attach.h's callers run only once per
// attach, so nothing here is on a hot path) and called through plain
// function pointers, with PyObject kept opaque.
#include "interpose/attach/python_attach.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "interpose/recorder.h"
#include "interpose/symbol_resolution.h"

namespace oomtrace::interpose {
namespace {

struct PyObject;
using Py_ssize_t = ssize_t;

// The C API subset, as each release since 3.0 declares it. PyGILState_STATE
// is an enum, passed as an int.
struct PythonApi {
  int (*is_initialized)() = nullptr;                        // Py_IsInitialized
  int (*is_finalizing)() = nullptr;                         // Py_IsFinalizing (3.13) or _Py_IsFinalizing
  int (*gil_ensure)() = nullptr;                            // PyGILState_Ensure
  void (*gil_release)(int) = nullptr;                       // PyGILState_Release
  PyObject* (*sys_get_object)(const char*) = nullptr;       // PySys_GetObject (borrowed)
  PyObject* (*decode_fs)(const char*) = nullptr;            // PyUnicode_DecodeFSDefault
  int (*sequence_contains)(PyObject*, PyObject*) = nullptr; // PySequence_Contains
  int (*list_insert)(PyObject*, Py_ssize_t, PyObject*) = nullptr;  // PyList_Insert
  PyObject* (*import_module)(const char*) = nullptr;        // PyImport_ImportModule
  PyObject* (*call_method)(PyObject*, const char*, const char*, ...) = nullptr;  // PyObject_CallMethod
  Py_ssize_t (*tuple_size)(PyObject*) = nullptr;            // PyTuple_Size
  PyObject* (*tuple_item)(PyObject*, Py_ssize_t) = nullptr; // PyTuple_GetItem (borrowed)
  int (*is_true)(PyObject*) = nullptr;                      // PyObject_IsTrue
  PyObject* (*str)(PyObject*) = nullptr;                    // PyObject_Str
  const char* (*as_utf8)(PyObject*) = nullptr;              // PyUnicode_AsUTF8
  void (*err_fetch)(PyObject**, PyObject**, PyObject**) = nullptr;  // PyErr_Fetch
  void (*err_clear)() = nullptr;                            // PyErr_Clear
  void (*dec_ref)(PyObject*) = nullptr;                     // Py_DecRef (NULL-safe)
};

template <typename Function>
bool find(void* scope, const char* name, Function* out) {
  *out = reinterpret_cast<Function>(real_dlsym()(scope, name));
  return *out != nullptr;
}

// Everything from one object, so that two interpreters in one process
// (rare, but a program may embed one beside a python executable) are never
// mixed. `is_finalizing` is optional: 3.6 and older have neither name.
bool resolve_from(void* scope, PythonApi* api) {
  if (!real_dlsym()) return false;
  PythonApi found;
  if (!find(scope, "Py_IsFinalizing", &found.is_finalizing)) find(scope, "_Py_IsFinalizing", &found.is_finalizing);
  bool complete = find(scope, "Py_IsInitialized", &found.is_initialized) &&
                  find(scope, "PyGILState_Ensure", &found.gil_ensure) &&
                  find(scope, "PyGILState_Release", &found.gil_release) &&
                  find(scope, "PySys_GetObject", &found.sys_get_object) &&
                  find(scope, "PyUnicode_DecodeFSDefault", &found.decode_fs) &&
                  find(scope, "PySequence_Contains", &found.sequence_contains) &&
                  find(scope, "PyList_Insert", &found.list_insert) &&
                  find(scope, "PyImport_ImportModule", &found.import_module) &&
                  find(scope, "PyObject_CallMethod", &found.call_method) &&
                  find(scope, "PyTuple_Size", &found.tuple_size) &&
                  find(scope, "PyTuple_GetItem", &found.tuple_item) &&
                  find(scope, "PyObject_IsTrue", &found.is_true) &&
                  find(scope, "PyObject_Str", &found.str) &&
                  find(scope, "PyUnicode_AsUTF8", &found.as_utf8) &&
                  find(scope, "PyErr_Fetch", &found.err_fetch) &&
                  find(scope, "PyErr_Clear", &found.err_clear) &&
                  find(scope, "Py_DecRef", &found.dec_ref);
  if (complete) *api = found;
  return complete;
}

// Only names are collected here: dlopen inside a dl_iterate_phdr callback
// could deadlock against a thread of the program that is in dlopen.
int collect_libpython(struct dl_phdr_info* info, size_t, void* data) {
  const char* name = info->dlpi_name;
  if (name && std::string(name).find("libpython3") != std::string::npos) {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
  return 0;
}

// A python executable built with a static libpython exports the API itself
// (global scope); a shared libpython is in the global scope too unless a
// program dlopen()ed it RTLD_LOCAL, which only the list of loaded objects
// shows. The handle taken then is kept: the pointers must outlive detach.
bool resolve_python_api(PythonApi* api) {
  if (resolve_from(RTLD_DEFAULT, api)) return true;
  std::vector<std::string> candidates;
  dl_iterate_phdr(&collect_libpython, &candidates);
  for (const std::string& name : candidates) {
    void* handle = dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (!handle) continue;
    if (resolve_from(handle, api)) return true;
    dlclose(handle);
  }
  return false;
}

// This library as the process loaded it: the bridge opens it by this path
// with ctypes, since an injected library is not in the global scope where
// ctypes.CDLL(None) looks.
std::string this_library_path() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&this_library_path), &info) || !info.dli_fname) return {};
  return info.dli_fname;
}

PythonApi g_api;
// Set when attach_running answered: only then is there a bridge to stop.
bool g_bridge_running = false;

// Holds the GIL for one scope. PyGILState_Ensure is how a thread Python did
// not create joins the interpreter; it waits while the program's own
// threads run Python, as long as any of them holds the GIL without
// releasing it.
class GilHold {
 public:
  explicit GilHold(const PythonApi& api) : api_(api), state_(api.gil_ensure()) {}
  ~GilHold() { api_.gil_release(state_); }
  GilHold(const GilHold&) = delete;
  GilHold& operator=(const GilHold&) = delete;

 private:
  const PythonApi& api_;
  int state_;
};

// str() of an object, "" when it has none; clears what str() raised.
std::string text_of(const PythonApi& api, PyObject* object) {
  if (!object) return {};
  PyObject* text = api.str(object);
  const char* utf8 = text ? api.as_utf8(text) : nullptr;
  std::string out = utf8 ? utf8 : "";
  api.dec_ref(text);
  if (!utf8) api.err_clear();
  return out;
}

// The pending exception, taken (so none is left set) and put in words.
std::string take_exception(const PythonApi& api) {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  api.err_fetch(&type, &value, &traceback);
  std::string text = text_of(api, value);
  if (text.empty()) text = text_of(api, type);
  api.dec_ref(type);
  api.dec_ref(value);
  api.dec_ref(traceback);
  api.err_clear();
  return text.empty() ? "an exception without a message" : text;
}

// python_dir first on sys.path, so that the bridge imported is the one that
// came with this library, not another copy the program can see.
bool put_on_sys_path(const PythonApi& api, const std::string& dir, std::string* problem) {
  PyObject* path = api.sys_get_object("path");
  if (!path) {
    *problem = "the interpreter has no sys.path";
    return false;
  }
  PyObject* entry = api.decode_fs(dir.c_str());
  if (!entry) {
    *problem = take_exception(api);
    return false;
  }
  int present = api.sequence_contains(path, entry);
  bool ok = present == 1 || (present == 0 && api.list_insert(path, 0, entry) == 0);
  api.dec_ref(entry);
  if (!ok) *problem = take_exception(api);
  return ok;
}

// attach_running's answer: (torch imported, bridge started, one sentence).
bool read_answer(const PythonApi& api, PyObject* answer, PythonBridgeOutcome* outcome) {
  if (api.tuple_size(answer) != 3) {
    api.err_clear();  // not a tuple at all: a bridge from another release
    return false;
  }
  int torch = api.is_true(api.tuple_item(answer, 0));
  int started = api.is_true(api.tuple_item(answer, 1));
  const char* detail = api.as_utf8(api.tuple_item(answer, 2));
  if (torch < 0 || started < 0 || !detail) {
    api.err_clear();
    return false;
  }
  outcome->torch_present = torch == 1;
  outcome->started = started == 1;
  outcome->detail = detail;
  return true;
}

bool interpreter_usable(const PythonApi& api) {
  return api.is_initialized() && !(api.is_finalizing && api.is_finalizing());
}

// Under the GIL: import the bridge and hand it this library.
void attach_bridge(const PythonApi& api, const std::string& bridge_dir, PythonBridgeOutcome* outcome) {
  std::string problem;
  if (!put_on_sys_path(api, bridge_dir, &problem)) {
    outcome->detail = "the Python bridge was not started: " + bridge_dir + " not put on sys.path (" + problem + ")";
    return;
  }
  PyObject* bridge = api.import_module("oomtrace_bridge");
  if (!bridge) {
    outcome->detail = "the Python bridge was not started: oomtrace_bridge not imported from " + bridge_dir +
                      " (" + take_exception(api) + ")";
    return;
  }
  PyObject* library = api.decode_fs(this_library_path().c_str());
  PyObject* answer = library ? api.call_method(bridge, "attach_running", "O", library) : nullptr;
  if (!answer) {
    outcome->detail = "the Python bridge did not start (" + take_exception(api) + ")";
  } else if (read_answer(api, answer, outcome)) {
    g_bridge_running = true;
  } else {
    outcome->detail = "the Python bridge gave an answer this library does not read (another oomtrace release?)";
  }
  api.dec_ref(answer);
  api.dec_ref(library);
  api.dec_ref(bridge);
}

}  // namespace

PythonBridgeOutcome start_python_bridge(const std::string& bridge_dir) {
  PythonBridgeOutcome outcome;
  g_bridge_running = false;
  if (!resolve_python_api(&g_api) || !interpreter_usable(g_api)) return outcome;
  outcome.python_present = true;
  GilHold gil(g_api);
  attach_bridge(g_api, bridge_dir, &outcome);
  return outcome;
}

void stop_python_bridge() {
  if (!g_bridge_running) return;
  g_bridge_running = false;
  // An interpreter shutting down may never give the GIL to a new thread:
  // the bridge then goes with it.
  if (!interpreter_usable(g_api)) return;
  GilHold gil(g_api);
  PyObject* bridge = g_api.import_module("oomtrace_bridge");
  PyObject* answer = bridge ? g_api.call_method(bridge, "detach_running", nullptr) : nullptr;
  if (!answer) record_note("PyTorch bridge: not stopped at detach (" + take_exception(g_api) + ")");
  g_api.dec_ref(answer);
  g_api.dec_ref(bridge);
}

}  // namespace oomtrace::interpose
