"""A fixed-capacity ring replay buffer that is a pytree, so it lives inside the ``lax.scan`` state.

flashbax is not installed in the project's pinned environment (and we may not add packages), so this
is our own ~60-line buffer: ``data`` holds every field with a leading ``capacity`` axis; ``add``
writes a batch of transitions (one per parallel env) at the write pointer with wrap-around;
``sample`` draws uniformly among the filled slots. Memory is known before anything is allocated:
`buffer_bytes` / `check_memory` compute it from one example transition at config time and raise
`ReplayMemoryError` above a budget.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

BUDGET_ENV = "JAXEDGE_REPLAY_BUDGET_GB"


def default_budget_bytes() -> int:
    """The replay memory budget: ``$JAXEDGE_REPLAY_BUDGET_GB`` GiB (default 4), read when checked."""
    text = os.environ.get(BUDGET_ENV, "4")
    try:
        gib = float(text)
    except ValueError:
        gib = float("nan")
    if not np.isfinite(gib) or gib <= 0:
        raise ReplayMemoryError(f"{BUDGET_ENV} must be a positive number of GiB, got {text!r}")
    return int(gib * 2**30)


class ReplayMemoryError(ValueError):
    """The replay buffers of a run would not fit the memory budget."""


@struct.dataclass
class Buffer:
    data: dict  # field -> [capacity, ...]
    ptr: jax.Array  # int32 next write slot
    size: jax.Array  # int32 filled slots


def transition_bytes(example) -> int:
    """Bytes of one transition (a pytree of arrays or ShapeDtypeStructs)."""
    return int(sum(np.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(example)))


def buffer_bytes(capacity: int, example, runs: int = 1) -> int:
    return int(capacity) * transition_bytes(example) * int(runs)


def check_memory(capacity: int, example, runs: int = 1, budget_bytes: int | None = None) -> int:
    """Raise `ReplayMemoryError` when ``capacity x transition bytes x runs`` exceeds the budget.

    The budget defaults to 4 GiB (env var ``JAXEDGE_REPLAY_BUDGET_GB``). Returns the byte count.
    """
    budget = default_budget_bytes() if budget_bytes is None else int(budget_bytes)
    need = buffer_bytes(capacity, example, runs)
    if need > budget:
        per = transition_bytes(example)
        raise ReplayMemoryError(
            f"replay buffers need {need / 2**30:.2f} GiB (buffer_size {capacity} x {per} B per "
            f"transition x {runs} runs) > budget {budget / 2**30:.2f} GiB; lower buffer_size, the "
            f"number of seeds/sweep values, or raise JAXEDGE_REPLAY_BUDGET_GB"
        )
    return need


def init(example, capacity: int) -> Buffer:
    """Empty buffer whose fields have the shapes/dtypes of ``example`` (one transition)."""
    data = jax.tree_util.tree_map(lambda x: jnp.zeros((capacity,) + tuple(x.shape), x.dtype), example)
    return Buffer(data=data, ptr=jnp.zeros((), jnp.int32), size=jnp.zeros((), jnp.int32))


def capacity_of(buf: Buffer) -> int:
    return jax.tree_util.tree_leaves(buf.data)[0].shape[0]


def add(buf: Buffer, batch) -> Buffer:
    """Append a batch of transitions (leading axis = batch, <= capacity) with wrap-around."""
    cap = capacity_of(buf)
    n = jax.tree_util.tree_leaves(batch)[0].shape[0]
    idx = (buf.ptr + jnp.arange(n)) % cap
    data = jax.tree_util.tree_map(lambda d, x: d.at[idx].set(x.astype(d.dtype)), buf.data, batch)
    return Buffer(data=data, ptr=(buf.ptr + n) % cap, size=jnp.minimum(buf.size + n, cap))


def sample(buf: Buffer, key, batch_size: int):
    """``batch_size`` transitions drawn uniformly (with replacement) from the filled slots."""
    u = jax.random.uniform(key, (batch_size,))
    idx = jnp.minimum((u * jnp.maximum(buf.size, 1)).astype(jnp.int32), jnp.maximum(buf.size, 1) - 1)
    return jax.tree_util.tree_map(lambda d: d[idx], buf.data)


def add_masked(buf: Buffer, batch, mask) -> Buffer:
    """Append only the rows of ``batch`` where ``mask`` (bool ``[n]``, n <= capacity) holds, in order.

    The kept rows are moved to the front (stable) and written at the pointer; the slots past their
    count keep their old contents, so masked rows never enter (or evict from) the buffer.
    """
    cap = capacity_of(buf)
    n = mask.shape[0]
    order = jnp.argsort(jnp.logical_not(mask), stable=True)
    count = mask.sum().astype(jnp.int32)
    idx = (buf.ptr + jnp.arange(n)) % cap
    keep = jnp.arange(n) < count

    def write(d, x):
        new = x[order].astype(d.dtype)
        old = d[idx]
        return d.at[idx].set(jnp.where(keep.reshape((n,) + (1,) * (new.ndim - 1)), new, old))

    data = jax.tree_util.tree_map(write, buf.data, batch)
    return Buffer(data=data, ptr=(buf.ptr + count) % cap, size=jnp.minimum(buf.size + count, cap))


def sample_distinct(buf: Buffer, key, batch_size: int):
    """``batch_size`` distinct transitions, each filled slot equally likely (``batch_size/size``):
    one uniform draw in each of ``batch_size`` equal strata of the filled slots. A stand-in for
    uniform sampling without replacement (Python's ``random.sample``) at 1/60 of the cost of a
    top-k over the buffer; the two differ only in which pairs may share a batch. Needs
    ``size >= batch_size`` for distinctness (the caller's warm-up)."""
    size = jnp.maximum(buf.size, 1).astype(jnp.float32)
    u = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size
    idx = jnp.minimum((u * size).astype(jnp.int32), buf.size - 1)
    idx = jnp.maximum(idx, 0)
    return jax.tree_util.tree_map(lambda d: d[idx], buf.data)
