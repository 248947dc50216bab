"""The one checkpoint path: the whole runner state (networks, optimisers, replay, env states, RNG), its
metadata and a checksum in ONE file, ``checkpoint.msgpack``, written to a temporary file, fsynced and
renamed into place after every chunk: a kill at any moment leaves either the previous checkpoint or
the new one, never a torn or mixed pair.

Layout: ``MAGIC | uint64 header length | header JSON | state``. The header holds the metadata (algo,
env, sizes, config, runs, grouping, chunk, the metrics history), the state's byte count and its
SHA-256; the state is flax msgpack of ``jax.device_get(rs)``. `load` checks, in this order and each
with a one-line `CheckpointError`: the file exists, the magic, the header, the metadata against what
the caller expects (BEFORE deserialising anything), the state's length (truncation) and checksum
(corruption), that it deserialises into the template, and that no float is NaN.
``checkpoint.json`` beside it is a human-readable copy of the header, written after it and never read.

Why not orbax: a resume must be bit-exact, and a msgpack of ``jax.device_get(rs)`` restored into the
``jax.eval_shape`` template of the same ``init`` is exactly that, in a few dozen lines, one file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

STATE_FILE = "checkpoint.msgpack"  # the checkpoint (one atomic unit)
META_FILE = "checkpoint.json"  # informational copy of its header; never read back
MAGIC = b"JAXEDGE-CHECKPOINT-2\n"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed (missing, truncated, corrupt, or made by another run)."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file that is fsynced and renamed into place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def exists(out: Path) -> bool:
    return (Path(out) / STATE_FILE).exists()


def encode(runner_state, meta: dict) -> bytes:
    state = serialization.to_bytes(jax.device_get(runner_state))
    header = json.dumps({"meta": meta, "state_bytes": len(state),
                         "sha256": hashlib.sha256(state).hexdigest()}).encode()
    return MAGIC + struct.pack("<Q", len(header)) + header + state


def save(out: Path, runner_state, meta: dict, rows: list | None = None) -> None:
    """State, metadata (with the ``metrics.csv`` history ``rows``) and checksum as one file renamed
    into place; then the informational json (without the rows)."""
    out = Path(out)
    atomic_write(out / STATE_FILE, encode(runner_state, {**meta, "rows": rows or []}))
    atomic_write(out / META_FILE, json.dumps(meta, indent=1).encode())


def read(out: Path) -> tuple[dict, bytes, int, str]:
    """``(meta, state bytes, saved state length, saved sha256)`` of the checkpoint in ``out`` (not
    yet verified: `load` does that after checking the metadata)."""
    out = Path(out)
    path = out / STATE_FILE
    if not path.exists():
        raise CheckpointError(f"no checkpoint to resume in {out} ({STATE_FILE} is missing); drop --resume "
                              f"to start afresh")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise CheckpointError(f"{path} is not a jaxedge checkpoint of this format (empty, truncated, "
                              f"overwritten or written by an older version); it cannot be resumed")
    start = len(MAGIC) + 8
    try:
        (size,) = struct.unpack("<Q", data[len(MAGIC):start])
        header = json.loads(data[start:start + size])
        meta, n, digest = header["meta"], int(header["state_bytes"]), header["sha256"]
    except (struct.error, ValueError, KeyError, TypeError):
        raise CheckpointError(f"{path} is truncated or corrupt (its header cannot be read)") from None
    state = data[start + size:]
    return meta, state, n, digest


def load(out: Path, template, expect: dict | None = None):
    """``(runner_state, meta)`` restored into ``template`` (e.g. ``jax.eval_shape(init, ...)``).

    Every key of ``expect`` must equal the saved metadata's (checked before the state is read), else
    `CheckpointError` names it; so does a truncated, corrupt or non-finite state.
    """
    out = Path(out)
    meta, state, n, digest = read(out)
    for key, value in (expect or {}).items():
        if meta.get(key) != _jsonable(value):
            raise CheckpointError(f"the checkpoint in {out} was made with a different {key}; "
                                  f"use the same flags or another --out")
    if len(state) != n:
        raise CheckpointError(f"the checkpoint in {out} is truncated ({len(state)} of {n} state bytes)")
    if hashlib.sha256(state).hexdigest() != digest:
        raise CheckpointError(f"the checkpoint in {out} is corrupt (its checksum does not match)")
    try:
        restored = serialization.from_bytes(template, state)
    except Exception as err:  # noqa: BLE001 (flax raises many kinds; all mean "not this run's state")
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise CheckpointError(f"the checkpoint in {out} does not fit this run's train state: {first}") from None
    for leaf in jax.tree_util.tree_leaves(restored):  # NaN only: some states start at +-inf on purpose
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) and np.any(np.isnan(arr)):
            raise CheckpointError(f"the checkpoint in {out} holds NaN values; it cannot be resumed")
    return jax.tree_util.tree_map(jnp.asarray, restored), meta


def config_from_meta(config: dict, cls):
    """A learner's ``cls`` config rebuilt from the ``config`` a checkpoint's metadata saved (its fields
    only: keys ``cls`` no longer has are dropped)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in config.items() if k in names})


def _jsonable(value):
    """``value`` as it reads back from the JSON header (tuples become lists, ...)."""
    return json.loads(json.dumps(value))
