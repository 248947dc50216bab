"""A PettingZoo ``ParallelEnv`` over one jaxedge env.

    from jaxedge.interop.pettingzoo import JaxEdgeParallelEnv
    env = JaxEdgeParallelEnv("cloud_edge", n_cells=2, ues_per_cell=3)
    obs, infos = env.reset(seed=0)                 # {"agent_0": float32[obs_dim], ...} for live agents
    obs, rewards, terminations, truncations, infos = env.step({a: env.action_space(a).sample() for a in env.agents})

``possible_agents`` are all ``agent_i``; ``agents`` are the ones present this episode (cloud_edge's
padded UEs are left out; their actions are filled with option 0) and become empty when the episode
ends (no auto-reset: call ``reset``). Spaces are per agent (Gymnasium classes, no agent axis, the
same objects on every call); hybrid actions are ``Dict(discrete=..., continuous=...)``.
``infos[agent]`` holds the env's metrics (shared) and the agent's availability mask
(``"action_mask"``, see `jaxedge.interop._common.avail_actions`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from pettingzoo import ParallelEnv

from jaxedge.interop import _common
from jaxedge.interop.gymnasium import _make_env, agent_gym_space


# Module-level jits with the (frozen, hashable) env static: every instance of an env shares one compile.
@partial(jax.jit, static_argnums=(0, 1))
def _reset(env, nvec, key, params):
    obs, state = env.reset(key, params)
    return obs, state, _common.live_agents(env, state), _common.avail_actions(env, nvec, state, params)


@partial(jax.jit, static_argnums=(0, 1))
def _step(env, nvec, key, state, action, params):
    obs, new_state, reward, terminated, truncated, info = env.step(key, state, action, params)
    done = terminated | truncated
    obs = jnp.where(done, info["final_observation"], obs)  # no auto-reset here
    new_state = jax.tree.map(lambda f, s: jnp.where(done, f, s), info["final_state"], new_state)
    mask = _common.avail_actions(env, nvec, new_state, params)
    return obs, new_state, reward, terminated, truncated, info["metrics"], mask


class JaxEdgeParallelEnv(ParallelEnv):
    """One jaxedge env behind PettingZoo's parallel API (see the module docstring)."""

    metadata = {"name": "jaxedge", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, env="collab_edge", params=None, render_mode=None, **sizes):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.env = _make_env(env, sizes)
        self.params = self.env.default_params if params is None else params
        self.env.validate_params(self.params)
        self.render_mode = render_mode
        self.metadata = dict(self.metadata, name=f"jaxedge_{self.env.name}")
        n = self.env.num_agents
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self.agents = []
        obs_space, act_space = self.env.observation_space(self.params), self.env.action_space(self.params)
        self._act_specs = [_common.agent_spec(act_space, i) for i in range(n)]
        self._obs_spaces = {a: agent_gym_space(_common.agent_spec(obs_space, i)) for i, a in enumerate(self.possible_agents)}
        self._act_spaces = {a: agent_gym_space(s) for a, s in zip(self.possible_agents, self._act_specs)}
        self._zero = {a: self._act_spaces[a].sample() for a in self.possible_agents}
        self._zero = jax.tree.map(np.zeros_like, self._zero)  # option 0 / zeros, for absent agents
        self._nvec = _common.head_nvec(self._act_specs[0])
        self._key = self._state = None

    def observation_space(self, agent):
        return self._obs_spaces[agent]

    def action_space(self, agent):
        return self._act_spaces[agent]

    def _infos(self, mask, metrics=None):
        metrics = {} if metrics is None else {k: float(v) for k, v in metrics.items()}
        mask = np.asarray(mask)
        return {a: {"action_mask": mask[i], **metrics} for i, a in enumerate(self.possible_agents) if a in self.agents}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._key = jax.random.PRNGKey(seed)
        elif self._key is None:
            self._key = jax.random.PRNGKey(np.random.SeedSequence().entropy % (2**31))
        self._key, k = jax.random.split(self._key)
        obs, self._state, live, mask = _reset(self.env, self._nvec, k, self.params)
        live = np.asarray(live)
        self.agents = [a for a, ok in zip(self.possible_agents, live) if ok]
        obs = np.asarray(obs)
        return {a: obs[i] for i, a in enumerate(self.possible_agents) if a in self.agents}, self._infos(mask)

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        unknown = set(actions) - set(self.possible_agents)
        if unknown:
            raise ValueError(f"actions for unknown agents {sorted(unknown)[:5]}")
        full = {a: actions.get(a, self._zero[a]) for a in self.possible_agents}
        action = _common.stack_actions(self._act_specs, self.possible_agents, full)
        self._key, k = jax.random.split(self._key)
        obs, self._state, reward, terminated, truncated, metrics, mask = _step(
            self.env, self._nvec, k, self._state, action, self.params
        )
        obs, reward = np.asarray(obs), np.asarray(reward)
        idx = {a: i for i, a in enumerate(self.possible_agents) if a in self.agents}
        out = (
            {a: obs[i] for a, i in idx.items()},
            {a: float(reward[i]) for a, i in idx.items()},
            {a: bool(terminated) for a in idx},
            {a: bool(truncated) for a in idx},
            self._infos(mask, metrics),
        )
        if bool(terminated) or bool(truncated):
            self.agents = []
        return out

    def render(self):
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        from jaxedge import render as jrender

        return jrender.figure_to_rgb(self.env.render(self._state, self.params))

    def close(self):
        pass
