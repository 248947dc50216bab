"""Lazy (sparse) Adam for a wide output table whose minibatch touches a few columns (TF's LazyAdam).

A dueling head over a large discrete action set (seed 001: 128 x 18,496 per agent) gets gradient
only in the columns of the minibatch's actions, plus a uniform "mean" part that only shifts every
column alike (which leaves centred advantages unchanged). A dense Adam step reads and writes the
whole table and both moment tables every update; on a CPU that memory traffic, not the arithmetic,
bounds the update. `update` applies Adam to the touched columns only: the gradients of repeated
columns are summed first, their first/second moments are read, updated and written back, and the
bias correction uses the global step count. Columns not in the minibatch keep their moments and
values (a dense Adam would still move them by their decaying momentum).

    state = init(table)                                     # {"m", "v", "count"}
    table, state = update(table, state, cols, col_grads, lr)  # cols int[K], col_grads [rows, K]
"""

from __future__ import annotations

import jax.numpy as jnp


def init(table):
    return {"m": jnp.zeros_like(table), "v": jnp.zeros_like(table), "count": jnp.zeros((), jnp.int32)}


def update(table, state, cols, col_grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step on ``table[:, cols]`` with per-sample column gradients ``col_grads [rows, K]``
    (samples with the same column are summed, as the dense gradient would be)."""
    same = (cols[:, None] == cols[None, :]).astype(col_grads.dtype)  # [K, K]
    g = col_grads @ same  # the summed gradient of column cols[k], for every k
    count = state["count"] + 1
    m = b1 * state["m"][:, cols] + (1.0 - b1) * g
    v = b2 * state["v"][:, cols] + (1.0 - b2) * g * g
    t = count.astype(jnp.float32)
    step = lr * (m / (1.0 - b1**t)) / (jnp.sqrt(v / (1.0 - b2**t)) + eps)
    # repeated columns write identical values, so the scatter order does not matter
    new = table[:, cols] - step
    return (table.at[:, cols].set(new),
            {"m": state["m"].at[:, cols].set(m), "v": state["v"].at[:, cols].set(v), "count": count})
