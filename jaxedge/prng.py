"""Random draws for the envs: flat, fused threefry draws and the choice of PRNG implementation.

**Fast threefry, bit-identical.** `uniform` / `normal` return exactly the numbers of
``jax.random.uniform`` / ``jax.random.normal`` for the same key (`tests/test_prng.py` checks it bit for
bit), computed differently:

* drawn *flat* (one axis) and reshaped: with ``jax_threefry_partitionable`` (jax's default) the
  numbers are a function of the flat index only; a multi-axis threefry shape vectorises badly on
  XLA:CPU (about 6x more per number);
* for a threefry2x32 key (jax's default), the hash is `threefry2x32`: the 20-round Threefry-2x32
  written in uint32 ``jnp`` ops as one straight block and a 2-pass loop of two blocks, which XLA
  fuses into vector loops. jax lowers threefry on CPU as a rolled 5-pass while loop that also carries
  and rotates its key schedule and rotation constants; ours was measured 1.6x faster for 240 draws
  per env at 4096 envs (3.6 vs 5.7 ms on one core) and 1.4x for 10-30. Fully unrolled it was ~2.5x
  faster alone but slower inside a step: XLA:CPU copies a cheap elementwise producer into every
  consuming fusion, so the ~100-op hash was recomputed by each (v2x: ~80 copies), and an
  ``optimization_barrier`` does not stop that on CPU (the pipeline drops barriers before fusion).
  A loop is never fused into its consumers.

Every env and action space draws through these two functions and splits keys with `split`
(``jax.random.split``'s numbers, the same way).

**PRNG implementation** (a documented option; threefry stays the default). The envs take keys and
only ever call `split` and the draws above on them, so the key's implementation decides
the generator. `configure` (or ``JAXEDGE_PRNG=<name>`` read by `configure_from_env`;
``benchmarks/env_throughput.py --prng NAME`` uses it) selects one of `CHOICES` for the keys made
afterwards:

* ``"threefry2x32"`` (the default): jax's default; the reference-equivalence tests inject its draws.
* ``"philox2x32"``, ``"philox4x32"``, ``"threefry4x32"``, ``"rbg"``, ``"unsafe_rbg"``: other jax key
  implementations, drawn through ``jax.random``. Same distributions (uniform in [0, 1), standard
  normal; `tests/test_prng.py` checks the envs' draws with two-sample KS tests against threefry),
  different streams: results are reproducible per implementation only. ``rbg`` / ``unsafe_rbg``
  (XLA's ``RngBitGenerator``) are meant for accelerators; vmapped over per-env keys on XLA:CPU they
  cost about 4x *more* per number than threefry here.
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

IMPLS = ("threefry2x32", "threefry4x32", "philox2x32", "philox4x32", "rbg", "unsafe_rbg")
CHOICES = IMPLS

THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
THREEFRY_PARITY = 0x1BD11BDA


def _rotate_left(x, distance: int):
    return jax.lax.shift_left(x, np.uint32(distance)) | jax.lax.shift_right_logical(x, np.uint32(32 - distance))


def _threefry_block(parity: int, block, keys, x1, x2):
    """Block ``block`` (0-4, may be traced) of Threefry-2x32: four rounds with the rotations of its
    ``parity`` (``block % 2``, static), then the key injection."""
    for distance in THREEFRY_ROTATIONS[parity]:
        x1 = x1 + x2
        x2 = x1 ^ _rotate_left(x2, distance)
    return x1 + keys[(block + 1) % 3], x2 + keys[(block + 2) % 3] + (block + 1).astype(jnp.uint32)


def threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds (Salmon et al., SC 2011; jax's default generator), on uint32 arrays.

    Block 0 runs straight, blocks 1-2 and 3-4 as the two passes of a ``fori_loop`` carrying only the
    two words (module doc: a loop keeps XLA from copying the hash into every consumer).
    """
    keys = jnp.stack(jnp.broadcast_arrays(k1, k2, k1 ^ k2 ^ np.uint32(THREEFRY_PARITY)))
    x1, x2 = _threefry_block(0, jnp.int32(0), keys, x1 + keys[0], x2 + keys[1])

    def two_blocks(j, words):  # blocks 1 + 2j (odd) and 2 + 2j (even)
        return _threefry_block(0, 2 + 2 * j, keys, *_threefry_block(1, 1 + 2 * j, keys, *words))

    return jax.lax.fori_loop(0, 2, two_blocks, (x1, x2))


def _threefry_key_data(key, default_impl: str):
    """The uint32 pair of a threefry2x32 key (raw or typed), or None for another implementation
    (``default_impl``: the implementation of raw keys, passed in so the jitted callers re-trace on it)."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(key) if str(jax.random.key_impl(key)) == "threefry2x32" else None
    if key.shape == (2,) and default_impl == "threefry2x32":
        return key
    return None


def _bits(key, size: int, default_impl: str = "threefry2x32"):
    """``jax.random.bits(key, (size,))`` (uint32): the fused hash for threefry keys, else jax's own."""
    data = _threefry_key_data(key, default_impl)
    if data is None or size >= 2**32:
        return jax.random.bits(key, (size,), jnp.uint32)
    hi, lo = _hash_flat_index(data, size)
    return hi ^ lo


def _hash_flat_index(data, size: int):
    """Threefry of the flat indices 0..size-1 (low word; the high word is 0), as jax.random counts."""
    return threefry2x32(data[0], data[1], jnp.zeros((size,), np.uint32), jax.lax.iota(np.uint32, size))


def split(key, num: int = 2) -> jax.Array:
    """``jax.random.split(key, num)`` (bit-identical): the fused hash for raw threefry keys."""
    return _split(key, int(num), jax.config.jax_default_prng_impl)


@functools.partial(jax.jit, static_argnums=(1, 2))  # one dispatch when called eagerly, as jax.random
def _split(key, num: int, default_impl: str):
    data = _threefry_key_data(key, default_impl)
    if data is None or jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):  # typed keys: jax's own
        return jax.random.split(key, num)
    return jnp.stack(_hash_flat_index(data, num), axis=1)


def _unit_floats(key, size: int):
    """Floats in [0, 1) from 23 random mantissa bits, jax.random.uniform's float32 construction."""
    return _unit_floats_jit(key, size, jax.config.jax_default_prng_impl)


@functools.partial(jax.jit, static_argnums=(1, 2))  # one dispatch when called eagerly, as jax.random
def _unit_floats_jit(key, size: int, default_impl: str):
    mantissa = jax.lax.shift_right_logical(_bits(key, size, default_impl), np.uint32(32 - 23))
    one = np.array(1.0, np.float32).view(np.uint32)
    return jax.lax.bitcast_convert_type(mantissa | one, jnp.float32) - np.float32(1.0)


def uniform(key, shape=(), dtype=jnp.float32, minval=0.0, maxval=1.0) -> jax.Array:
    """``jax.random.uniform`` (bit-identical): drawn flat and reshaped, threefry fused (module doc)."""
    shape = tuple(int(s) for s in shape)
    if jnp.dtype(dtype) != jnp.float32:
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    u = _unit_floats(key, math.prod(shape)).reshape(shape)
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)) and (minval, maxval) == (0.0, 1.0):
        return u
    # jax.random.uniform's own scaling: max(minval, u (maxval - minval) + minval).
    minval, maxval = jnp.asarray(minval, dtype), jnp.asarray(maxval, dtype)
    return jax.lax.max(minval, u * (maxval - minval) + minval)


def normal(key, shape=(), dtype=jnp.float32) -> jax.Array:
    """``jax.random.normal`` (bit-identical): sqrt(2) erfinv(u), u uniform in (-1, 1), as jax draws it."""
    shape = tuple(int(s) for s in shape)
    if jnp.dtype(dtype) != jnp.float32:
        return jax.random.normal(key, shape, dtype)
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0), dtype=np.float32)
    u = jax.lax.max(lo, _unit_floats(key, math.prod(shape)) * (np.float32(1.0) - lo) + lo)
    return (np.float32(np.sqrt(2)) * jax.lax.erf_inv(u)).reshape(shape)


def configure(choice: str) -> None:
    """Select the PRNG of the keys made afterwards (``jax.random.PRNGKey`` / ``key``): one of `CHOICES`."""
    if choice not in CHOICES:
        raise ValueError(f"unknown PRNG {choice!r}; choose one of {CHOICES}")
    jax.config.update("jax_default_prng_impl", choice)


def configure_from_env(var: str = "JAXEDGE_PRNG") -> str:
    """`configure` from the environment variable ``var`` (unset or empty: the default); returns the choice."""
    choice = os.environ.get(var) or "threefry2x32"
    configure(choice)
    return choice
