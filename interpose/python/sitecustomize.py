"""oomtrace's Python bridge, loaded by `oomtrace run` through PYTHONPATH.

Python imports the first sitecustomize on sys.path; this one hands over to the
next one (the distribution's, a virtualenv's, the user's) before doing its
own work, so putting oomtrace in front changes nothing else.
"""
import importlib.machinery
import importlib.util
import os
import sys


def _run_next_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


try:
    _run_next_sitecustomize()
finally:
    try:
        import oomtrace_bridge

        oomtrace_bridge.install()
    except Exception as error:  # the bridge must never stop the program from starting
        sys.stderr.write("oomtrace: the Python bridge did not start (%s: %s); "
                         "CUDA calls are still traced\n" % (type(error).__name__, error))
