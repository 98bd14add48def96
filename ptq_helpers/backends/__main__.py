"""The child processes of the builders: `python -m ptq_helpers.backends MODULE ARGS...` runs MODULE's main(ARGS)
(e.g. `pytorch` builds TorchScript in a fresh process, `litert` converts with TensorFlow away from torch). Run
through the package, so a module's classes are the registered ones, not a second copy under __main__."""
import importlib
import sys

if len(sys.argv) < 2 or sys.argv[1] not in ("pytorch", "litert", "litert_quantizer", "litert_size"):
    sys.exit("usage: python -m ptq_helpers.backends {pytorch,litert,litert_quantizer,litert_size} ARGS...")
importlib.import_module(f"ptq_helpers.backends.{sys.argv[1]}").main(sys.argv[2:])
