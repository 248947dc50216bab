"""The multi-agent environment contract shared by every jaxedge env.

An env is a frozen, hashable dataclass that holds only *static* configuration (anything that fixes an
array shape). Everything numeric lives in a `Params` pytree passed to every call, so sweeps over
scenario parameters are a `vmap`, not a recompile.

    obs, state = env.reset(key, params)
    obs, state, reward, terminated, truncated, info = env.step(key, state, action, params)

* Agents are the leading array axis: ``obs: float32[n_agents, obs_dim]``, ``reward: float32[n_agents]``.
* ``terminated`` / ``truncated`` are per-env scalar booleans (all agents share an episode).
* `step` auto-resets: when the episode ends, the returned ``obs``/``state`` are those of a fresh
  episode; the last observation and state of the finished one are ``info["final_observation"]``
  and ``info["final_state"]`` (e.g. for a critic's ``global_state`` at a time-limit end).
* ``info["metrics"]`` holds the physical quantities of the step (delay, energy, cost, ...).

* The observation is declared once as ordered named parts (`observation_parts`, `spaces.ObsPart`):
  ``obs_dim``, `flatten_observation` (used by each env's ``observations``) and the generic
  `decode_observation` (flat rows -> ``{part name: array}``) derive from it.

Subclasses implement `reset_env`, `step_env`, `observation_space`, `action_space`,
`observation_parts`, `default_params`, `num_agents`, `global_state` and may extend
`validate_params`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import spaces


def _is_concrete(tree) -> bool:
    return not any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))


def check_params(
    params,
    *,
    positive: Iterable[str] = (),
    nonnegative: Iterable[str] = (),
    unit_interval: Iterable[str] = (),
) -> None:
    """Raise ``ValueError`` naming the first field that is non-finite or out of its domain.

    Every numeric field must be finite; the named groups add sign / range requirements.
    Only concrete (non-traced) params can be checked; traced ones are skipped.
    """
    if not _is_concrete(params):
        return
    cls = type(params).__name__
    for field in dataclasses.fields(params):
        value = np.asarray(getattr(params, field.name), dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{cls}.{field.name} must be finite, got {value}")
    for name in positive:
        value = np.asarray(getattr(params, name), dtype=np.float64)
        if np.any(value <= 0):
            raise ValueError(f"{cls}.{name} must be > 0, got {value}")
    for name in nonnegative:
        value = np.asarray(getattr(params, name), dtype=np.float64)
        if np.any(value < 0):
            raise ValueError(f"{cls}.{name} must be >= 0, got {value}")
    for name in unit_interval:
        value = np.asarray(getattr(params, name), dtype=np.float64)
        if np.any((value < 0) | (value > 1)):
            raise ValueError(f"{cls}.{name} must be in [0, 1], got {value}")


def check_range_pair(params, low: str, high: str) -> None:
    """Raise if a ``(low, high)`` pair of params fields is inverted."""
    if not _is_concrete(params):
        return
    lo = np.asarray(getattr(params, low))
    hi = np.asarray(getattr(params, high))
    if np.any(lo > hi):
        raise ValueError(f"{type(params).__name__}.{low} ({lo}) must be <= {high} ({hi})")


def check_sizes(env, **sizes: int) -> None:
    """Raise ``ValueError`` for a zero or negative static size."""
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{type(env).__name__}.{name} must be a positive int, got {value!r}")


def check_action_shapes(space: spaces.Space, action: Any) -> None:
    """Raise ``ValueError`` when an action's array shapes do not match its space (trace time)."""
    expected = jax.eval_shape(space.sample, jax.random.PRNGKey(0))
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    try:
        leaves = exp_tree.flatten_up_to(action)
    except (ValueError, TypeError) as err:
        raise ValueError(f"action structure does not match {space}: {err}") from None
    for got, exp in zip(leaves, exp_leaves):
        got_shape = tuple(getattr(got, "shape", np.shape(got)))
        if got_shape != exp.shape:
            raise ValueError(
                f"action shape {got_shape} does not match {exp.shape} required by {space}"
            )


class MultiAgentEnv:
    """Base class: auto-reset `step`, `reset`, and the hooks subclasses fill in."""

    name: str = "base"
    presets: tuple = ()  # names of the ``Params`` preset classmethods this env offers (`make_params`)

    # ---- to implement -------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        raise NotImplementedError

    @property
    def default_params(self):
        raise NotImplementedError

    def reset_env(self, key, params):
        raise NotImplementedError

    def step_env(self, key, state, action, params):
        """One transition without auto-reset: ``obs, state, reward, terminated, truncated, info``."""
        raise NotImplementedError

    def observation_space(self, params) -> spaces.Space:
        raise NotImplementedError

    def action_space(self, params) -> spaces.Space:
        raise NotImplementedError

    def global_state(self, state, params) -> jax.Array:
        """Centralised-critic input for one env: a flat ``float32`` vector."""
        raise NotImplementedError

    @property
    def observation_parts(self) -> tuple[spaces.ObsPart, ...]:
        """Each agent's observation as ordered named parts (static: sizes fix them); the flat
        ``obs_dim``, `decode_observation` and `flatten_observation` all derive from it."""
        raise NotImplementedError

    def preset_params(self, name: str):
        """``Params`` of preset ``name`` at this env's static sizes. Envs whose presets depend on a
        static size (per-server arrays, capped counts) override this to pass them."""
        return getattr(type(self.default_params), name)()

    def make_params(self, preset: str | None = None):
        """The ``Params`` of a named preset (``None``: `default_params`), sized for this env."""
        if preset is None:
            return self.default_params
        if preset not in self.presets:
            raise ValueError(f"unknown preset {preset!r} for {self.name}; choose one of {list(self.presets)}")
        return self.preset_params(preset)

    def validate_params(self, params) -> None:
        """Raise ``ValueError`` naming the offending field; no-op for traced params."""
        check_params(params)

    # ---- provided ------------------------------------------------------------------------------
    @property
    def obs_dim(self) -> int:
        """Length of one agent's flat observation (the sum of the parts' sizes)."""
        return spaces.obs_size(self.observation_parts)

    @property
    def obs_offsets(self) -> dict:
        """``{part name: (offset, size)}`` in the flat observation."""
        return spaces.part_offsets(self.observation_parts)

    def flatten_observation(self, values, lead=None) -> jax.Array:
        """``{part name: array}`` -> ``float32[*lead, obs_dim]`` in part order; ``lead`` defaults to
        ``(num_agents,)`` and each value is broadcast to ``lead + part.shape``."""
        lead = (self.num_agents,) if lead is None else lead
        return spaces.flatten_parts(self.observation_parts, values, lead)

    def decode_observation(self, obs: jax.Array) -> dict:
        """Flat observation rows ``[..., obs_dim]`` -> ``{part name: [..., *part.shape]}`` (the
        scaled values the agent sees; `flatten_observation` inverts it)."""
        return spaces.unflatten_parts(self.observation_parts, obs)

    def render(self, state, params=None, action=None, fig=None):
        """A matplotlib Figure of one env's ``state`` (and ``action``'s targets): `jaxedge.render`."""
        from jaxedge import render

        return render.render(self, state, self.default_params if params is None else params, action, fig)

    def reset(self, key: jax.Array, params=None):
        params = self.default_params if params is None else params
        self.validate_params(params)
        return self.reset_env(key, params)

    def step(self, key: jax.Array, state, action, params=None):
        params = self.default_params if params is None else params
        self.validate_params(params)
        check_action_shapes(self.action_space(params), action)
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, terminated, truncated, info = self.step_env(
            key_step, state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        obs_re, state_re = self.reset_env(key_reset, params)
        state = jax.tree_util.tree_map(lambda r, s: jnp.where(done, r, s), state_re, state_st)
        obs = jnp.where(done, obs_re, obs_st)
        info = dict(info)
        info["final_observation"] = obs_st
        info["final_state"] = state_st
        return obs, state, reward, terminated, truncated, info
