// The Python bridge (interpose/python/oomtrace_bridge.py) in a process that
// `oomtrace attach` joined: preloading set it up through sitecustomize at
// start; here it is imported from the library's own thread, which takes the
// GIL the way any C thread may. Never from the thread the injector borrowed:
// that one may hold the GIL or be anywhere inside the interpreter.
#pragma once

#include <string>

namespace oomtrace::interpose {

struct PythonBridgeOutcome {
  bool python_present = false;  // an initialised interpreter is in the process
  bool torch_present = false;   // with torch imported
  bool started = false;         // the bridge runs: its OOM observer attached, or set to
                                // attach at torch's import or CUDA's initialisation
  std::string detail;           // one sentence for the report's paths
};

// `bridge_dir`: the folder holding oomtrace_bridge.py, as this process sees it.
PythonBridgeOutcome start_python_bridge(const std::string& bridge_dir);
// Detach: the observer stays registered (PyTorch cannot remove one) but
// does nothing from now on, and the allocation history it started stops.
void stop_python_bridge();

}  // namespace oomtrace::interpose
