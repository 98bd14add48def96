"""The child processes of the builders: `python -m ptq_helpers.backends WING.MODULE ARGS...` runs that module's
main(ARGS) (e.g. `pytorch.backend` builds TorchScript in a fresh process, `litert.backend` converts with TensorFlow
away from torch). Only modules of a registered wing run. Run through the package, so a module's classes are the
registered ones, not a second copy under __main__."""
import importlib
import sys

from ptq_helpers.backends import wing_modules

_name = f"ptq_helpers.backends.{sys.argv[1]}" if len(sys.argv) > 1 else ""
if not any(_name.startswith(f"{wing}.") for wing in wing_modules()):
    sys.exit("usage: python -m ptq_helpers.backends WING.MODULE ARGS... (a module of a registered wing: "
             f"{', '.join(w.rpartition('.')[2] for w in wing_modules())})")
importlib.import_module(_name).main(sys.argv[2:])
