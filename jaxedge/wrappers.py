"""Wrappers: episode logging and batched stepping.

`JaxMARLAdapter` (the JaxMARL dict API) lives in `jaxedge.interop.jaxmarl` and is re-exported here
lazily, so importing this module never imports jaxmarl.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from jaxedge import prng
from jaxedge.env import MultiAgentEnv, check_action_shapes


class Wrapper:
    """Forwards every attribute to the wrapped env."""

    def __init__(self, env: MultiAgentEnv):
        self._env = env

    def __getattr__(self, name):
        return getattr(self._env, name)


@struct.dataclass
class LogState:
    env_state: object
    episode_returns: jax.Array  # (n_agents,) running sum of this episode's rewards
    episode_length: jax.Array  # int32
    episode_metrics: dict  # running sums of info["metrics"] over this episode
    returned_episode_returns: jax.Array  # last finished episode's returns
    returned_episode_length: jax.Array
    returned_episode_metrics: dict  # last finished episode's per-step means


class LogWrapper(Wrapper):
    """Tracks per-agent episode returns and episode means of the env's physical metrics.

    ``info`` gains ``returned_episode`` (bool: an episode ended this step),
    ``returned_episode_returns`` (n_agents,), ``returned_episode_length`` and
    ``returned_episode_metrics`` (per-step means over the last finished episode).
    """

    def _zero_metrics(self, key, params):
        obs, state = self._env.reset(key, params)
        action = self._env.action_space(params).sample(key)
        _, _, _, _, _, info = jax.eval_shape(self._env.step, key, state, action, params)
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, jnp.float32), info["metrics"])

    @partial(jax.jit, static_argnums=0)
    def reset(self, key, params=None):
        params = self._env.default_params if params is None else params
        obs, env_state = self._env.reset(key, params)
        zeros = self._zero_metrics(key, params)
        n = self._env.num_agents
        state = LogState(
            env_state=env_state,
            episode_returns=jnp.zeros((n,), jnp.float32),
            episode_length=jnp.zeros((), jnp.int32),
            episode_metrics=zeros,
            returned_episode_returns=jnp.zeros((n,), jnp.float32),
            returned_episode_length=jnp.zeros((), jnp.int32),
            returned_episode_metrics=zeros,
        )
        return obs, state

    @partial(jax.jit, static_argnums=0)
    def step(self, key, state: LogState, action, params=None):
        params = self._env.default_params if params is None else params
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        returns = state.episode_returns + reward
        length = state.episode_length + 1
        sums = jax.tree_util.tree_map(
            lambda acc, m: acc + m.astype(jnp.float32), state.episode_metrics, info["metrics"]
        )
        means = jax.tree_util.tree_map(lambda s: s / length, sums)
        keep = lambda new, old: jnp.where(done, new, old)  # noqa: E731
        state = LogState(
            env_state=env_state,
            episode_returns=returns * (1 - done),
            episode_length=length * (1 - done),
            episode_metrics=jax.tree_util.tree_map(lambda s: s * (1 - done), sums),
            returned_episode_returns=keep(returns, state.returned_episode_returns),
            returned_episode_length=keep(length, state.returned_episode_length),
            returned_episode_metrics=jax.tree_util.tree_map(
                keep, means, state.returned_episode_metrics
            ),
        )
        info = dict(info)
        info["returned_episode"] = done
        info["returned_episode_returns"] = state.returned_episode_returns
        info["returned_episode_length"] = state.returned_episode_length
        info["returned_episode_metrics"] = state.returned_episode_metrics
        return obs, state, reward, terminated, truncated, info


class VecEnv(Wrapper):
    """A batch of envs on a leading axis, with resets computed only when some env is done.

    ``VecEnv(env).step(keys, states, actions, params)`` returns exactly what
    ``jax.vmap(env.step, in_axes=(0, 0, 0, None))`` returns, but evaluates the (vmapped) reset inside a
    ``lax.cond`` on ``any(done)``: envs that share a clock (the usual case: all reset together) pay
    for a reset once per episode instead of on every step.
    """

    def reset(self, keys, params=None):
        params = self._env.default_params if params is None else params
        return jax.vmap(self._env.reset, in_axes=(0, None))(keys, params)

    def step(self, keys, state, action, params=None):
        env = self._env
        params = env.default_params if params is None else params
        env.validate_params(params)
        check_action_shapes(
            env.action_space(params),
            jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), action),
        )
        split = jax.vmap(prng.split)(keys)
        k_step, k_reset = split[:, 0], split[:, 1]
        obs_st, state_st, reward, terminated, truncated, info = jax.vmap(
            env.step_env, in_axes=(0, 0, 0, None)
        )(k_step, state, action, params)
        done = jnp.logical_or(terminated, truncated)

        def pick(r, s):
            return jnp.where(done.reshape(done.shape + (1,) * (s.ndim - 1)), r, s)

        def reset_and_pick(stepped):
            obs_re, state_re = jax.vmap(env.reset_env, in_axes=(0, None))(k_reset, params)
            return jax.tree_util.tree_map(pick, (obs_re, state_re), stepped)

        # Nobody done (most steps): the step's outputs pass through untouched; no reset values are
        # computed or materialised and nothing is selected.
        obs, state = jax.lax.cond(done.any(), reset_and_pick, lambda stepped: stepped, (obs_st, state_st))
        info = dict(info)
        info["param_error"] = jnp.broadcast_to(env.param_error(params), done.shape)
        info["final_observation"] = obs_st
        info["final_state"] = state_st
        return obs, state, reward, terminated, truncated, info


def __getattr__(name):
    if name == "JaxMARLAdapter":
        from jaxedge.interop.jaxmarl import JaxMARLAdapter

        return JaxMARLAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
