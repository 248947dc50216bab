"""Suite-wide: compile at XLA backend optimisation level 0.

Most of the suite's time is XLA compilation of small programs that then run for milliseconds; level
0 compiles them about 2.5x faster (the subprocess tests in test_train.py already used it). Set
before JAX initialises its backend; an XLA_FLAGS from the environment is kept and extended.
"""

import os

if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
