"""Action and observation spaces.

Spaces describe *whole* arrays, agents included: an env with 8 agents and 3 tasks per agent has an
action space whose `sample` returns arrays with a leading ``(8, 3)``. `sample` is jittable;
`contains` returns a traced boolean so it can be used inside `jit`.

Observations are flat ``float32[n_agents, obs_dim]`` vectors described by an ordered tuple of named
parts (`ObsPart`, static like the sizes that fix them): `obs_size`, `part_offsets`, `flatten_parts`
and `unflatten_parts` derive the dimension, each part's columns, the flattening of a dict of per-part
arrays and its inverse from that one tuple.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxedge import prng


class Space:
    """Base class: `sample(key)` draws a valid element, `contains(x)` checks one."""

    def sample(self, key: jax.Array) -> Any:
        raise NotImplementedError

    def contains(self, x: Any) -> jax.Array:
        raise NotImplementedError


class Discrete(Space):
    """Integers in ``[0, n)`` with a given array shape (``()`` for a single choice)."""

    def __init__(self, n: int, shape: Sequence[int] = ()):
        if int(n) < 1:
            raise ValueError(f"Discrete: n must be >= 1, got {n}")
        self.n = int(n)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = jnp.int32

    def sample(self, key):
        # floor(U * n) is uniform on {0..n-1} and cheaper than randint's rejection-free two-draw path.
        u = prng.uniform(key, self.shape)
        return jnp.minimum(jnp.floor(u * self.n), self.n - 1).astype(self.dtype)

    def contains(self, x):
        x = jnp.asarray(x)
        return jnp.logical_and(
            x.shape == self.shape, jnp.all(jnp.logical_and(x >= 0, x < self.n))
        )

    def __repr__(self):
        return f"Discrete(n={self.n}, shape={self.shape})"


class MultiDiscrete(Space):
    """Integers ``0 <= x[..., i] < nvec[i]``; `shape` is the full array shape (last axis = len(nvec))."""

    def __init__(self, nvec: Sequence[int], shape: Sequence[int] | None = None):
        self.nvec = np.asarray(nvec, dtype=np.int32)
        if self.nvec.ndim != 1 or np.any(self.nvec < 1):
            raise ValueError(f"MultiDiscrete: nvec must be a 1-D list of ints >= 1, got {nvec}")
        self.shape = tuple(shape) if shape is not None else (len(self.nvec),)
        if self.shape[-1] != len(self.nvec):
            raise ValueError(f"MultiDiscrete: last axis of shape {self.shape} must be len(nvec)")
        self.dtype = jnp.int32

    def sample(self, key):
        u = prng.uniform(key, self.shape)
        return jnp.minimum(jnp.floor(u * self.nvec), self.nvec - 1).astype(self.dtype)

    def contains(self, x):
        x = jnp.asarray(x)
        return jnp.logical_and(
            x.shape == self.shape, jnp.all(jnp.logical_and(x >= 0, x < self.nvec))
        )

    def __repr__(self):
        return f"MultiDiscrete(nvec={self.nvec.tolist()}, shape={self.shape})"


class Box(Space):
    """Real arrays in ``[low, high]`` (bounds broadcast to `shape`)."""

    def __init__(self, low, high, shape: Sequence[int], dtype=jnp.float32):
        self.shape = tuple(int(s) for s in shape)
        self.low = np.broadcast_to(np.asarray(low, dtype=np.float32), self.shape)
        self.high = np.broadcast_to(np.asarray(high, dtype=np.float32), self.shape)
        if np.any(self.low > self.high):
            raise ValueError("Box: low must be <= high")
        self.dtype = dtype

    def sample(self, key):
        if np.all(np.isfinite(self.low) & np.isfinite(self.high)):
            return prng.uniform(key, self.shape, self.dtype, self.low, self.high)
        # Unbounded dimensions are sampled from a standard normal.
        finite = np.isfinite(self.low) & np.isfinite(self.high)
        low, high = np.where(finite, self.low, 0.0), np.where(finite, self.high, 1.0)
        u = prng.uniform(key, self.shape, dtype=self.dtype)
        normal = prng.normal(key, self.shape, dtype=self.dtype)
        return jnp.where(finite, low + u * (high - low), normal)

    def contains(self, x):
        x = jnp.asarray(x)
        return jnp.logical_and(
            x.shape == self.shape,
            jnp.all(jnp.logical_and(x >= self.low, x <= self.high)),
        )

    def __repr__(self):
        return f"Box(shape={self.shape}, low={self.low.min()}, high={self.high.max()})"


@struct.dataclass
class HybridAction:
    """A hybrid action: integer heads plus a continuous array (both with leading agent axes)."""

    discrete: jax.Array
    continuous: jax.Array


class Hybrid(Space):
    """Discrete heads (a `Discrete` or `MultiDiscrete`) paired with a continuous `Box`."""

    def __init__(self, discrete: Discrete | MultiDiscrete, continuous: Box):
        self.discrete = discrete
        self.continuous = continuous

    def sample(self, key):
        k1, k2 = prng.split(key)
        return HybridAction(self.discrete.sample(k1), self.continuous.sample(k2))

    def contains(self, x):
        if not isinstance(x, HybridAction):
            return jnp.asarray(False)
        return jnp.logical_and(
            self.discrete.contains(x.discrete), self.continuous.contains(x.continuous)
        )

    def __repr__(self):
        return f"Hybrid(discrete={self.discrete}, continuous={self.continuous})"


class Dict(Space):
    """A mapping of named sub-spaces; elements are plain dicts."""

    def __init__(self, spaces: Mapping[str, Space]):
        self.spaces = dict(spaces)

    def sample(self, key):
        keys = prng.split(key, len(self.spaces))
        return {name: sp.sample(k) for (name, sp), k in zip(self.spaces.items(), keys)}

    def contains(self, x):
        if not isinstance(x, Mapping) or set(x) != set(self.spaces):
            return jnp.asarray(False)
        ok = jnp.asarray(True)
        for name, sp in self.spaces.items():
            ok = jnp.logical_and(ok, sp.contains(x[name]))
        return ok

    def __repr__(self):
        return f"Dict({self.spaces})"


# ------------------------------------------------------------------------------------------------
# Observations as ordered named parts
# ------------------------------------------------------------------------------------------------
PART_ROLES = (None, "head", "option")


@dataclasses.dataclass(frozen=True)
class ObsPart:
    """One named block of an agent's flat observation: ``shape`` per agent, flattened row-major.

    ``role`` tags structure a learner may exploit (read by ``algos.common.obs_layout``):
    ``"head"`` = shape ``(n_heads, width)``, one block of ``width`` features per discrete action head
    (e.g. per task); ``"option"`` = shape ``(n_options,)``, one column per non-zero discrete option
    (e.g. per server, option k >= 1 = server k). ``None``: plain features.
    """

    name: str
    shape: tuple = ()
    role: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.role not in PART_ROLES:
            raise ValueError(f"ObsPart {self.name!r}: role must be one of {PART_ROLES}, got {self.role!r}")
        if self.role == "head" and len(self.shape) != 2:
            raise ValueError(f"ObsPart {self.name!r}: a 'head' part has shape (n_heads, width), got {self.shape}")
        if self.role == "option" and len(self.shape) != 1:
            raise ValueError(f"ObsPart {self.name!r}: an 'option' part has shape (n_options,), got {self.shape}")

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def obs_size(parts: Sequence[ObsPart]) -> int:
    """The flat observation dimension: the sum of the parts' sizes."""
    return sum(p.size for p in parts)


def part_offsets(parts: Sequence[ObsPart]) -> dict:
    """``{name: (offset, size)}``: where each part sits in the flat observation."""
    out, i = {}, 0
    for p in parts:
        if p.name in out:
            raise ValueError(f"duplicate observation part name {p.name!r}")
        out[p.name] = (i, p.size)
        i += p.size
    return out


def flatten_parts(parts: Sequence[ObsPart], values: Mapping[str, Any], lead: Sequence[int] = ()) -> jax.Array:
    """Concatenate ``values[name]`` in part order into ``float32[*lead, obs_size]``.

    Each value is broadcast to ``lead + part.shape`` first (so per-env quantities that every agent
    sees can be given without the agent axis); missing or extra names raise ``KeyError``.
    """
    lead = tuple(lead)
    if set(values) != {p.name for p in parts}:
        raise KeyError(f"observation values {sorted(values)} do not match parts {[p.name for p in parts]}")
    cols = [jnp.broadcast_to(jnp.asarray(values[p.name]), lead + p.shape).reshape(lead + (p.size,)) for p in parts]
    return jnp.concatenate(cols, axis=-1).astype(jnp.float32)


def unflatten_parts(parts: Sequence[ObsPart], obs: jax.Array) -> dict:
    """Inverse of `flatten_parts`: ``{name: obs[..., cols].reshape(..., *shape)}`` for any leading axes."""
    if obs.shape[-1] != obs_size(parts):
        raise ValueError(f"observation has {obs.shape[-1]} columns, the parts describe {obs_size(parts)}")
    lead = obs.shape[:-1]
    return {p.name: obs[..., i:i + n].reshape(lead + p.shape) for p, (i, n) in zip(parts, part_offsets(parts).values())}
