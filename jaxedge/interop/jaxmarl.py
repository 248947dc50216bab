"""JaxMARL's dict API over any jaxedge env: ``JaxMARLAdapter(jaxedge.make(name), params)``.

    from jaxmarl.wrappers.baselines import MPELogWrapper
    env = MPELogWrapper(JaxMARLAdapter(jaxedge.make("slicing", action_mode="coarse")))
    obs, state = env.reset(key)                         # obs: {"agent_0": float32[obs_dim], ...}
    obs, state, reward, done, info = env.step(key, state, actions)

What JaxMARL's wrappers and baselines expect, and what the adapter does for it:

* ``params`` is fixed at construction (JaxMARL calls ``reset(key)`` / ``step(key, state, actions)``);
  ``reset`` / ``step`` also take an optional ``params=`` keyword to override it (e.g. under ``vmap``).
* ``observation_space(agent)`` / ``action_space(agent)`` and the ``observation_spaces`` /
  ``action_spaces`` dicts are *per agent* (no agent axis) and of JaxMARL's own classes when jaxmarl is
  installed (``Discrete``, ``MultiDiscrete``, ``Box``; hybrid actions are a ``Dict`` with
  ``"discrete"`` and ``"continuous"``), so ``get_space_dim`` and ``CTRolloutManager`` work.
* actions: one per agent, any shape with the right number of values (IPPO's ``(1,)`` for a
  ``Discrete`` agent is fine), reshaped to the agent's space; hybrid actions as a dict or `HybridAction`.
* ``step(key, state, actions, reset_state=None)``: JaxMARL's auto-reset, optionally to a given state.
* ``info``: every leaf has shape ``(num_agents,)`` (IPPO reshapes it to ``NUM_ACTORS``): the env's
  ``metrics`` and scalar infos broadcast, per-agent infos kept, ``terminated`` / ``truncated``
  flags added; arrays of other shapes (``final_observation``, ``final_state``, cloud_edge's
  ``vector_reward``) are left out — use the jaxedge API for them.
* ``dones[agent]`` is the episode's done, or True for a padded agent (cloud_edge's absent UEs: JaxMARL's
  convention for agents that are not playing); ``get_avail_actions(state)`` masks the options that
  do nothing (padded UEs, collab_edge's no-op steps), see `jaxedge.interop._common.avail_actions`.
* ``jaxmarl.make`` has a fixed list of names, so use `make` here: ``make("collab_edge", params)``.

The class subclasses ``jaxmarl.environments.MultiAgentEnv`` when jaxmarl is importable and works
without it (then its spaces are `jaxedge.spaces` classes).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxedge import spaces as jspaces
from jaxedge.interop import _common

try:  # optional dependency: the `interop` extra
    from jaxmarl.environments import spaces as _jm_spaces
    from jaxmarl.environments.multi_agent_env import MultiAgentEnv as _JaxMARLBase

    HAVE_JAXMARL = True
except ImportError:  # pragma: no cover - exercised when the extra is absent
    _jm_spaces, _JaxMARLBase, HAVE_JAXMARL = None, object, False


def _bound(x):
    x = np.asarray(x, np.float32)
    return float(x.reshape(-1)[0]) if x.size and np.all(x == x.reshape(-1)[0]) else x


def build_space(spec: _common.AgentSpec):
    """One agent's space in JaxMARL's classes (or jaxedge's when jaxmarl is not installed)."""
    if _jm_spaces is None:
        if spec.kind == "box":
            return jspaces.Box(spec.low, spec.high, spec.native_shape)
        if spec.kind == "discrete":
            return jspaces.Discrete(spec.n)
        if spec.kind == "multidiscrete":
            return jspaces.MultiDiscrete(spec.nvec)
        return jspaces.Dict({"discrete": build_space(spec.discrete), "continuous": build_space(spec.continuous)})
    if spec.kind == "box":
        return _jm_spaces.Box(_bound(spec.low), _bound(spec.high), spec.native_shape, jnp.float32)
    if spec.kind == "discrete":
        return _jm_spaces.Discrete(spec.n)
    if spec.kind == "multidiscrete":
        return _jm_spaces.MultiDiscrete(list(spec.nvec))
    return _jm_spaces.Dict({"discrete": build_space(spec.discrete), "continuous": build_space(spec.continuous)})


class JaxMARLAdapter(_common.ForwardsToEnv, _JaxMARLBase):
    """A jaxedge env behind JaxMARL's ``MultiAgentEnv`` API (see the module docstring)."""

    def __init__(self, env, params=None):
        if not hasattr(env, "step_env") or not hasattr(env, "num_agents"):
            raise TypeError(f"JaxMARLAdapter wraps a jaxedge env (jaxedge.make(...)), got {type(env).__name__}")
        self._env = env
        self._params = env.default_params if params is None else params
        env.validate_params(self._params)
        n = env.num_agents
        if HAVE_JAXMARL:
            super().__init__(num_agents=n)
        else:
            self.num_agents = n
            self.agents = [f"agent_{i}" for i in range(n)]
        obs_space = env.observation_space(self._params)
        act_space = env.action_space(self._params)
        self._obs_specs = [_common.agent_spec(obs_space, i) for i in range(n)]
        self._act_specs = [_common.agent_spec(act_space, i) for i in range(n)]
        self.observation_spaces = {a: build_space(s) for a, s in zip(self.agents, self._obs_specs)}
        self.action_spaces = {a: build_space(s) for a, s in zip(self.agents, self._act_specs)}

    @property
    def params(self):
        return self._params

    @property
    def agent_classes(self) -> dict:
        return {"agents": list(self.agents)}

    def observation_space(self, agent: str):
        return self.observation_spaces[self._check_agent(agent)]

    def action_space(self, agent: str):
        return self.action_spaces[self._check_agent(agent)]

    def _check_agent(self, agent):
        if agent not in self.observation_spaces:
            raise KeyError(f"unknown agent {agent!r}; agents are {self.agents[0]!r}..{self.agents[-1]!r}")
        return agent

    def _to_dict(self, x):
        return {a: x[i] for i, a in enumerate(self.agents)}

    # ---- API ---------------------------------------------------------------------------------------
    @partial(jax.jit, static_argnums=0)
    def reset(self, key, params=None):
        params = self._params if params is None else params
        obs, state = self._env.reset(key, params)
        return self._to_dict(obs), state

    @partial(jax.jit, static_argnums=0)
    def step(self, key, state, actions, reset_state=None, params=None):
        env = self._env
        params = self._params if params is None else params
        action = _common.stack_actions(self._act_specs, self.agents, actions)
        env.validate_params(params)
        # The base class's auto-reset, with JaxMARL's optional reset state (same key use as env.step).
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, terminated, truncated, info = env.step_env(key_step, state, action, params)
        done = jnp.logical_or(terminated, truncated)
        if reset_state is None:
            obs_re, state_re = env.reset_env(key_reset, params)
        else:
            state_re, obs_re = reset_state, _common.observations_of(env, reset_state, params)
        state = jax.tree_util.tree_map(lambda r, s: jnp.where(done, r, s), state_re, state_st)
        obs = jnp.where(done, obs_re, obs_st)
        live = _common.live_agents(env, state_st)
        dones = {a: jnp.logical_or(done, ~live[i]) for i, a in enumerate(self.agents)}
        dones["__all__"] = done
        info = _common.per_agent_info(info, self.num_agents, terminated, truncated)
        return self._to_dict(obs), state, self._to_dict(reward), dones, info

    @partial(jax.jit, static_argnums=0)
    def get_avail_actions(self, state, params=None):
        """``{agent: bool[n]}`` (``n`` = the agent's options; all heads' options concatenated for a
        multi-discrete or hybrid agent)."""
        params = self._params if params is None else params
        mask = _common.avail_actions(self._env, _common.head_nvec(self._act_specs[0]), state, params)
        return self._to_dict(mask)

    def get_obs(self, state, params=None):
        params = self._params if params is None else params
        return self._to_dict(_common.observations_of(self._env, state, params))

    def world_state(self, state, params=None):
        """The env's centralised-critic input (``env.global_state``)."""
        return self._env.global_state(state, self._params if params is None else params)


def make(name: str, params=None, **sizes) -> JaxMARLAdapter:
    """``jaxmarl.make`` for jaxedge names: ``make("collab_edge", params, n_servers=4)``."""
    import jaxedge

    return JaxMARLAdapter(jaxedge.make(name, **sizes), params)
