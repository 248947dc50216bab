"""Random draws for the envs: flat (fast) draws and the choice of PRNG implementation.

**Flat draws.** On XLA:CPU, ``jax.random.uniform(key, (8, 3, 2))`` costs about 6x more per number
than ``jax.random.uniform(key, (48,))``: the counter-based threefry hash is generated per axis of a
multi-dimensional shape and vectorises badly. With ``jax_threefry_partitionable`` (jax's default)
the numbers are a function of the flat index only, so drawing flat and reshaping gives *bit-identical*
values (`tests/test_prng.py` checks it). `uniform` / `normal` below do exactly that; the spaces and
the envs draw through them.

**PRNG implementation** (a documented option; threefry stays the default). The envs take keys and
only ever call ``jax.random.split`` / ``uniform`` / ``normal`` on them, so the key's implementation
decides the generator. `configure` (or ``JAXEDGE_PRNG=<name>`` read by `configure_from_env`;
``benchmarks/env_throughput.py --prng NAME`` uses it) selects one of `CHOICES` for the keys made
afterwards:

* ``"threefry2x32"`` (the default): jax's default; the reference-equivalence tests inject its draws.
* ``"threefry2x32_unrolled"``: the same generator and *bit-identical* numbers, lowered on CPU with
  jax's unrolled threefry rule (on CPU jax lowers threefry to a rolled 5-iteration while loop that
  copies its state buffers every iteration). Alone, a draw costs about half as much; inside a whole
  env step XLA may fuse the unrolled hash into several consumers and recompute it, and the step was
  measured *slower* for dt_inference and v2x, faster for slicing (`benchmarks/results/
  env_throughput.md`), so it is not the default. Process-global: it changes how threefry is lowered
  in every program compiled afterwards, never what it returns.
* ``"philox2x32"``, ``"philox4x32"``, ``"threefry4x32"``, ``"rbg"``, ``"unsafe_rbg"``: other jax key
  implementations. Same distributions (uniform in [0, 1), standard normal; `tests/test_prng.py`
  checks the envs' draws with two-sample KS tests against threefry), different streams: results are
  reproducible per implementation only. ``rbg`` / ``unsafe_rbg`` (XLA's ``RngBitGenerator``) are
  meant for accelerators; vmapped over per-env keys on XLA:CPU they cost about 4x *more* per number
  than threefry here.
"""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp

IMPLS = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32", "rbg", "unsafe_rbg")
CHOICES = ("threefry2x32", "threefry2x32_unrolled") + IMPLS[1:]


def uniform(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0) -> jax.Array:
    """``jax.random.uniform`` drawn flat and reshaped (bit-identical, faster on CPU)."""
    shape = tuple(int(s) for s in shape)
    u = jax.random.uniform(key, (math.prod(shape),), dtype).reshape(shape)
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)) and (minval, maxval) == (0.0, 1.0):
        return u
    # jax.random.uniform's own scaling: max(minval, u (maxval - minval) + minval).
    minval, maxval = jnp.asarray(minval, dtype), jnp.asarray(maxval, dtype)
    return jax.lax.max(minval, u * (maxval - minval) + minval)


def normal(key, shape=(), dtype=jnp.float32) -> jax.Array:
    """``jax.random.normal`` drawn flat and reshaped (bit-identical, faster on CPU)."""
    shape = tuple(int(s) for s in shape)
    return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)


def unroll_threefry_on_cpu() -> None:
    """Lower threefry2x32 on CPU with jax's unrolled rule (the one other platforms use): identical
    numbers, no per-round while loop. Affects the programs compiled afterwards, process-wide."""
    from jax._src.interpreters import mlir
    from jax._src.random import threefry2x32 as tf

    mlir.register_lowering(tf.threefry2x32_p, tf._threefry2x32_lowering_rule, platform="cpu")


def configure(choice: str) -> None:
    """Select the PRNG of the keys made afterwards (``jax.random.PRNGKey`` / ``key``): one of `CHOICES`."""
    if choice not in CHOICES:
        raise ValueError(f"unknown PRNG {choice!r}; choose one of {CHOICES}")
    if choice == "threefry2x32_unrolled":
        unroll_threefry_on_cpu()
        choice = "threefry2x32"
    jax.config.update("jax_default_prng_impl", choice)


def configure_from_env(var: str = "JAXEDGE_PRNG") -> str:
    """`configure` from the environment variable ``var`` (unset or empty: the default); returns the choice."""
    choice = os.environ.get(var) or "threefry2x32"
    configure(choice)
    return choice
