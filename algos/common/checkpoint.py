"""The one checkpoint path: the whole runner state (networks, optimisers, replay, env states, RNG) as
flax msgpack plus a JSON sidecar of metadata, both written atomically after every chunk.

Why not orbax: a resume must be bit-exact, and a msgpack of ``jax.device_get(rs)`` restored into the
``jax.eval_shape`` template of the same ``init`` is exactly that, in a dozen lines, one file, no
async manager or directory layout to version (orbax-checkpoint comes with flax, but its
``CheckpointManager`` adds options we would not use: async writes, retention, multi-host). The
sidecar carries what the run was made with, so `load` can refuse to resume a different run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

STATE_FILE = "checkpoint.msgpack"
META_FILE = "checkpoint.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed (missing, corrupt, or made by another run)."""


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def exists(out: Path) -> bool:
    return (Path(out) / META_FILE).exists() and (Path(out) / STATE_FILE).exists()


def save(out: Path, runner_state, meta: dict) -> None:
    """Write the state first, then the metadata: a kill between the two leaves the previous pair's
    metadata pointing at a newer state of the same run, never a torn file."""
    out = Path(out)
    atomic_write(out / STATE_FILE, serialization.to_bytes(jax.device_get(runner_state)))
    atomic_write(out / META_FILE, json.dumps(meta, indent=1).encode())


def load(out: Path, template, expect: dict | None = None):
    """``(runner_state, meta)`` restored into ``template`` (e.g. ``jax.eval_shape(init, ...)``).

    Every key of ``expect`` must equal the saved metadata's, else `CheckpointError` names it.
    A state with a non-finite float leaf is refused (a corrupted or diverged checkpoint).
    """
    out = Path(out)
    try:
        meta = json.loads((out / META_FILE).read_text())
        state = serialization.from_bytes(template, (out / STATE_FILE).read_bytes())
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"cannot read the checkpoint in {out}: {err}") from None
    for key, value in (expect or {}).items():
        if meta.get(key) != value:
            raise CheckpointError(f"the checkpoint in {out} was made with a different {key}; "
                                  f"use the same flags or another --out")
    for leaf in jax.tree_util.tree_leaves(state):
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            raise CheckpointError(f"the checkpoint in {out} holds non-finite values; it cannot be resumed")
    return jax.tree_util.tree_map(jnp.asarray, state), meta
