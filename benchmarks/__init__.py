"""jaxnn's benchmark suite: ``python -m benchmarks [--quick] [--only NAME] [--json PATH] [--device gpu]``.

See docs/benchmarks.md for the method and how to reproduce a run.
"""

import os

# JAX would otherwise reserve most of a GPU's memory at start, leaving torch's
# contenders (same process, same GPU) to run out of it.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
