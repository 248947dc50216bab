"""gymnax's ``Environment`` API with gymnax's own space classes: ``GymnaxAdapter(env)``.

Our step signature already is gymnax 1.0's (``step(key, state, action, params) -> obs, state, reward,
terminated, truncated, info``), but gymnax's wrappers check spaces with ``isinstance`` against its own
classes, which describe one array each (gymnax's ``Discrete`` is a single scalar choice). The
documented conversion (`to_gymnax_space`):

* ``Box`` -> ``gymnax.spaces.Box`` (same shape and bounds, float32);
* ``Discrete(n)`` of shape ``()`` -> ``gymnax.spaces.Discrete(n)``; with a shape (one choice per agent
  / task) -> an int32 ``gymnax.spaces.Box(0, n - 1, shape)`` (``gymnax_space_to_gym_space`` makes it
  an integer Gymnasium ``Box``); ``MultiDiscrete(nvec)`` -> the same with ``high = nvec - 1``;
* ``Hybrid`` -> ``gymnax.spaces.Dict({"discrete": ..., "continuous": ...})``; the adapter accepts that
  dict (or a `HybridAction`) as the action.

The adapter's reward is the sum over agents (gymnax is single-agent; per-agent rewards are
``info["rewards"]``), so ``GymnaxToGymWrapper(GymnaxAdapter(env))`` and PureJaxRL-style wrappers
(``LogWrapper``, ``FlattenObservationWrapper``, ``VecEnv``) run a jaxedge env unchanged.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import environment
from gymnax.environments import spaces as gx

from jaxedge import spaces as jspaces
from jaxedge.interop import _common


def to_gymnax_space(space: jspaces.Space) -> gx.Space:
    """A jaxedge space as gymnax's classes (see the module docstring for the rule)."""
    if isinstance(space, jspaces.Box):
        return gx.Box(jnp.asarray(space.low), jnp.asarray(space.high), space.shape, jnp.float32)
    if isinstance(space, jspaces.Discrete):
        if space.shape == ():
            return gx.Discrete(space.n)
        return gx.Box(0, space.n - 1, space.shape, jnp.int32)
    if isinstance(space, jspaces.MultiDiscrete):
        high = np.broadcast_to(space.nvec - 1, space.shape).astype(np.int32)
        return gx.Box(np.zeros(space.shape, np.int32), high, space.shape, jnp.int32)
    if isinstance(space, jspaces.Hybrid):
        return gx.Dict({"discrete": to_gymnax_space(space.discrete), "continuous": to_gymnax_space(space.continuous)})
    if isinstance(space, jspaces.Dict):
        return gx.Dict({k: to_gymnax_space(v) for k, v in space.spaces.items()})
    raise TypeError(f"no gymnax equivalent for {space!r}")


def _to_action(space, action):
    if isinstance(space, jspaces.Hybrid):
        if isinstance(action, jspaces.HybridAction):
            return action
        return jspaces.HybridAction(_to_action(space.discrete, action["discrete"]),
                                    _to_action(space.continuous, action["continuous"]))
    dtype = jnp.float32 if isinstance(space, jspaces.Box) else jnp.int32
    return jnp.asarray(action).astype(dtype)


class GymnaxAdapter(_common.ForwardsToEnv, environment.Environment):
    """A jaxedge env as a gymnax ``Environment`` (see the module docstring)."""

    def __init__(self, env):
        if not hasattr(env, "step_env"):
            raise TypeError(f"GymnaxAdapter wraps a jaxedge env (jaxedge.make(...)), got {type(env).__name__}")
        self._env = env

    @property
    def default_params(self):
        return self._env.default_params

    @property
    def num_actions(self) -> int:
        space = self.action_space(self.default_params)
        return space.n if isinstance(space, gx.Discrete) else int(np.prod(space.shape))

    def action_space(self, params=None):
        return to_gymnax_space(self._env.action_space(self.default_params if params is None else params))

    def observation_space(self, params=None):
        return to_gymnax_space(self._env.observation_space(self.default_params if params is None else params))

    @partial(jax.jit, static_argnames=("self",))
    def reset(self, key, params=None):
        return self._env.reset(key, self.default_params if params is None else params)

    @partial(jax.jit, static_argnames=("self",))
    def step(self, key, state, action, params=None):
        params = self.default_params if params is None else params
        act = _to_action(self._env.action_space(params), action)
        obs, state, reward, terminated, truncated, info = self._env.step(key, state, act, params)
        info = {**info, "rewards": reward, "terminated": terminated, "truncated": truncated}
        return obs, state, reward.sum(), terminated, truncated, info

    def render(self, state, params=None):
        return self._env.render(state, self.default_params if params is None else params)
