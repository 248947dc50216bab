"""Random draws for the envs: flat (fast) draws and the choice of PRNG implementation.

**Flat draws.** On XLA:CPU, ``jax.random.uniform(key, (8, 3, 2))`` costs about 6x more per number
than ``jax.random.uniform(key, (48,))``: the counter-based threefry hash is generated per axis of a
multi-dimensional shape and vectorises badly. With ``jax_threefry_partitionable`` (jax's default)
the numbers are a function of the flat index only, so drawing flat and reshaping gives *bit-identical*
values (`tests/test_prng.py` checks it). `uniform` / `normal` below do exactly that; every env and
space draws through them.

**PRNG implementation** (an option, not a semantic change). The envs take keys and only ever call
``jax.random.split`` / ``uniform`` / ``normal`` on them, so the key's implementation decides the
generator: pass ``jaxedge.prng.key(seed, "unsafe_rbg")`` (or set
``jax.config.update("jax_default_prng_impl", ...)`` before making keys) to step with another one.

* ``"threefry2x32"`` (the default): jax's default; the reference-equivalence tests inject its draws.
* ``"rbg"`` / ``"unsafe_rbg"``: XLA's ``RngBitGenerator``. Same distributions (uniform in [0, 1),
  standard normal: `tests/test_prng.py` checks each env's draws with two-sample KS tests), different
  streams. On GPU/TPU they are usually faster; on XLA:CPU `benchmarks/env_throughput.py --prng`
  measures them (they were slower than threefry on the 2-core CPU, see the results file), which is
  why threefry stays the default.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")


def key(seed: int, impl: str | None = None) -> jax.Array:
    """A typed key (``jax.random.key``) of implementation ``impl`` (None: jax's configured default);
    every key split from it, inside the envs too, keeps that implementation."""
    impl = impl or jax.config.jax_default_prng_impl
    if impl not in IMPLS:
        raise ValueError(f"unknown PRNG impl {impl!r}; choose one of {IMPLS}")
    return jax.random.key(seed, impl=impl)


def uniform(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0) -> jax.Array:
    """``jax.random.uniform`` drawn flat and reshaped (bit-identical, faster on CPU)."""
    shape = tuple(int(s) for s in shape)
    flat = jax.random.uniform(key, (math.prod(shape),), dtype)
    u = flat.reshape(shape)
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)) and (minval, maxval) == (0.0, 1.0):
        return u
    # jax.random.uniform's own scaling: max(minval, u (maxval - minval) + minval).
    minval, maxval = jnp.asarray(minval, dtype), jnp.asarray(maxval, dtype)
    return jax.lax.max(minval, u * (maxval - minval) + minval)


def normal(key, shape=(), dtype=jnp.float32) -> jax.Array:
    """``jax.random.normal`` drawn flat and reshaped (bit-identical, faster on CPU)."""
    shape = tuple(int(s) for s in shape)
    return jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)
