"""Small-axis array ops written for XLA:CPU speed (the envs' arrays have tiny static axes: 2-D
coordinates, 3-10 servers, 3 slices).

On XLA:CPU a ``jnp.sum`` / ``argmin`` over a tiny minor axis becomes a separate reduction kernel per
call (a YNNPACK or loop reduction that neither vectorises nor fuses with its neighbours): in a
vmapped env step these dominated the time. The unrolled forms below are plain elementwise adds /
selects that fuse into the surrounding arithmetic. Same values up to float summation order (left to
right, as XLA's sequential reduction).
"""

from __future__ import annotations

import jax.numpy as jnp


def small_sum(x, axis: int = -1):
    """``jnp.sum(x, axis)`` as an unrolled chain of adds over a small static axis."""
    x = jnp.moveaxis(jnp.asarray(x), axis, -1)
    total = x[..., 0]
    for i in range(1, x.shape[-1]):
        total = total + x[..., i]
    return total


def small_argmin(x):
    """``jnp.argmin(x, axis=-1)`` (first minimum) as an unrolled compare / select chain."""
    best, best_value = jnp.zeros(x.shape[:-1], jnp.int32), x[..., 0]
    for i in range(1, x.shape[-1]):
        better = x[..., i] < best_value
        best, best_value = jnp.where(better, i, best), jnp.where(better, x[..., i], best_value)
    return best
