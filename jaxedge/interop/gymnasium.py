"""Gymnasium classes over jaxedge envs, and the registered ids ``jaxedge/<Name>-v0``.

    import gymnasium as gym
    import jaxedge.interop.gymnasium                       # registers the ids
    env = gym.make("jaxedge/CollabEdge-v0", n_servers=4, max_tasks=4)
    vec = gym.make_vec("jaxedge/Slicing-v0", num_envs=64, vectorization_mode="vector_entry_point")

(``gym.make("jaxedge.interop.gymnasium:jaxedge/CollabEdge-v0")`` imports and registers in one go.)
Keyword arguments are the env's static sizes plus ``params=`` (a `Params`, default the env's).

One Gymnasium step is one step of the whole multi-agent env: the observation is the env's
``float32[n_agents, obs_dim]`` array, the action the env's whole action (``MultiDiscrete`` for per-agent
discrete choices, a ``Dict`` with ``"discrete"`` and ``"continuous"`` for hybrid actions), the reward
the *sum* over agents (``reward="mean"`` for the mean; per-agent rewards in ``info["rewards"]``), and
``info["metrics"]`` the env's physical metrics. Observation bounds are those of the env's
``observation_space`` (finite where the env states them). `JaxEdgeEnv` does not auto-reset (Gymnasium's
contract); `JaxEdgeVectorEnv` steps a batch with `jaxedge.wrappers.VecEnv` in one jitted call and
auto-resets in Gymnasium's default ``NEXT_STEP`` mode (or ``SAME_STEP``, whose final observations are
``info["final_obs"]``).
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces as gspaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

import jaxedge
from jaxedge import spaces as jspaces
from jaxedge.interop import _common
from jaxedge.wrappers import VecEnv

ENV_IDS = {
    "dt_inference": "jaxedge/DTInference-v0",
    "slicing": "jaxedge/Slicing-v0",
    "v2x": "jaxedge/V2X-v0",
    "collab_edge": "jaxedge/CollabEdge-v0",
    "cloud_edge": "jaxedge/CloudEdge-v0",
}


def to_gym_space(space: jspaces.Space) -> gspaces.Space:
    """A whole-array jaxedge space as a Gymnasium space (same shapes, bounds and dtypes)."""
    if isinstance(space, jspaces.Box):
        return gspaces.Box(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32), space.shape, np.float32)
    if isinstance(space, jspaces.Discrete):
        if space.shape == ():
            return gspaces.Discrete(space.n)
        return gspaces.MultiDiscrete(np.full(space.shape, space.n, np.int64))
    if isinstance(space, jspaces.MultiDiscrete):
        return gspaces.MultiDiscrete(np.broadcast_to(space.nvec, space.shape).astype(np.int64))
    if isinstance(space, jspaces.Hybrid):
        return gspaces.Dict({"discrete": to_gym_space(space.discrete), "continuous": to_gym_space(space.continuous)})
    if isinstance(space, jspaces.Dict):
        return gspaces.Dict({k: to_gym_space(v) for k, v in space.spaces.items()})
    raise TypeError(f"no Gymnasium equivalent for {space!r}")


def agent_gym_space(spec: _common.AgentSpec) -> gspaces.Space:
    """One agent's space (no agent axis) as a Gymnasium space (used by the PettingZoo adapter)."""
    if spec.kind == "box":
        return gspaces.Box(spec.low, spec.high, spec.native_shape, np.float32)
    if spec.kind == "discrete":
        return gspaces.Discrete(spec.n)
    if spec.kind == "multidiscrete":
        return gspaces.MultiDiscrete(np.asarray(spec.nvec, np.int64))
    return gspaces.Dict({"discrete": agent_gym_space(spec.discrete), "continuous": agent_gym_space(spec.continuous)})


def from_gym_action(space: jspaces.Space, action):
    """A Gymnasium action (NumPy arrays, dicts) -> the env's action pytree (raises on wrong shapes)."""
    if isinstance(space, jspaces.Hybrid):
        if not isinstance(action, dict) or set(action) != {"discrete", "continuous"}:
            raise ValueError("a hybrid action must be a dict with keys 'discrete' and 'continuous'")
        return jspaces.HybridAction(
            from_gym_action(space.discrete, action["discrete"]), from_gym_action(space.continuous, action["continuous"])
        )
    dtype = jnp.float32 if isinstance(space, jspaces.Box) else jnp.int32
    return jnp.asarray(np.asarray(action), dtype)


def _make_env(env, sizes):
    if isinstance(env, str):
        return jaxedge.make(env, **sizes)
    if sizes:
        raise ValueError("pass sizes only with an env name, not with an env instance")
    return env


# Module-level jits with the (frozen, hashable) env static: every instance of an env shares one compile.
@partial(jax.jit, static_argnums=0)
def _env_reset(env, key, params):
    return env.reset(key, params)


@partial(jax.jit, static_argnums=0)
def _env_step(env, key, state, action, params):
    return env.step(key, state, action, params)


def _to_numpy(tree):
    return jax.tree.map(np.asarray, tree)


class JaxEdgeEnv(gym.Env):
    """One jaxedge env as a ``gymnasium.Env`` (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, env="collab_edge", params=None, reward: str = "sum", render_mode=None, **sizes):
        if reward not in ("sum", "mean"):
            raise ValueError(f"reward must be 'sum' or 'mean', got {reward!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.env = _make_env(env, sizes)
        self.params = self.env.default_params if params is None else params
        self.env.validate_params(self.params)
        self.reward_mode, self.render_mode = reward, render_mode
        self._jax_action_space = self.env.action_space(self.params)
        self.observation_space = to_gym_space(self.env.observation_space(self.params))
        self.action_space = to_gym_space(self._jax_action_space)
        self._key = self._state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._key = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        self._key, k = jax.random.split(self._key)
        obs, self._state = _env_reset(self.env, k, self.params)
        return np.asarray(obs), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        self._key, k = jax.random.split(self._key)
        act = from_gym_action(self._jax_action_space, action)
        obs, state, reward, terminated, truncated, info = _env_step(self.env, k, self._state, act, self.params)
        terminated, truncated = bool(terminated), bool(truncated)
        if terminated or truncated:  # Gymnasium envs do not auto-reset: keep the finished episode's end
            obs, state = info["final_observation"], info["final_state"]
        self._state = state
        rewards = np.asarray(reward)
        total = float(rewards.sum() if self.reward_mode == "sum" else rewards.mean())
        return np.asarray(obs), total, terminated, truncated, {"rewards": rewards, "metrics": _to_numpy(info["metrics"])}

    def render(self):
        if self.render_mode != "rgb_array" or self._state is None:
            return None
        from jaxedge import render as jrender

        return jrender.figure_to_rgb(self.env.render(self._state, self.params))


class JaxEdgeVectorEnv(VectorEnv):
    """``num_envs`` copies stepped by `VecEnv` in one jitted call (see the module docstring)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env="collab_edge", num_envs: int = 8, params=None, reward: str = "sum",
                 autoreset_mode=AutoresetMode.NEXT_STEP, **sizes):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        autoreset_mode = AutoresetMode(autoreset_mode)
        if autoreset_mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode must be NEXT_STEP or SAME_STEP")
        self.env = _make_env(env, sizes)
        self.params = self.env.default_params if params is None else params
        self.env.validate_params(self.params)
        self.num_envs, self.reward_mode = int(num_envs), reward
        self.metadata = dict(self.metadata, autoreset_mode=autoreset_mode)
        self._jax_action_space = self.env.action_space(self.params)
        self.single_observation_space = to_gym_space(self.env.observation_space(self.params))
        self.single_action_space = to_gym_space(self._jax_action_space)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._vec = VecEnv(self.env)
        self._key = self._state = self._pending = None

    @partial(jax.jit, static_argnums=0)
    def _jit_step(self, keys, state, action, pending, pending_obs):
        obs, new_state, reward, terminated, truncated, info = self._vec.step(keys, state, action, self.params)
        # NEXT_STEP: an env that ended last step only resets now (reward 0, not done); pending envs'
        # state already is their reset state, so they keep it and show the stored reset observation.
        keep = lambda old, new: jnp.where(pending.reshape(pending.shape + (1,) * (new.ndim - 1)), old, new)  # noqa: E731
        new_state = jax.tree.map(keep, state, new_state)
        reward = jnp.where(pending[:, None], 0.0, reward)
        terminated, truncated = terminated & ~pending, truncated & ~pending
        return obs, new_state, reward, terminated, truncated, info, keep(pending_obs, info["final_observation"])

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._np_random, _ = gym.utils.seeding.np_random(seed if isinstance(seed, int) else seed[0])
        self._key = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        self._key, k = jax.random.split(self._key)
        obs, self._state = self._vec.reset(jax.random.split(k, self.num_envs), self.params)
        self._pending = jnp.zeros((self.num_envs,), bool)
        self._pending_obs = obs
        return np.asarray(obs), {}

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        self._key, k = jax.random.split(self._key)
        act = from_gym_action(self._jax_action_space, actions)
        obs, state, reward, terminated, truncated, info, shown = self._jit_step(
            jax.random.split(k, self.num_envs), self._state, act, self._pending, self._pending_obs
        )
        self._state = state
        done = terminated | truncated
        rewards = np.asarray(reward)
        total = rewards.sum(-1) if self.reward_mode == "sum" else rewards.mean(-1)
        out_info = {"rewards": rewards, "metrics": _to_numpy(info["metrics"])}
        if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP:
            self._pending, self._pending_obs = done, obs  # obs = the reset observation of done envs
            obs = shown  # final observation for envs that just ended, else the usual one
        else:
            self._pending = jnp.zeros_like(done)
            out_info["final_obs"] = np.asarray(info["final_observation"])
            out_info["_final_obs"] = np.asarray(done)
        return np.asarray(obs), total.astype(np.float32), np.asarray(terminated), np.asarray(truncated), out_info


def register_envs() -> None:
    """Register ``jaxedge/<Name>-v0`` for every env (idempotent)."""
    for name, env_id in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=partial(JaxEdgeEnv, name),
            vector_entry_point=partial(JaxEdgeVectorEnv, name),
            disable_env_checker=False,
        )


register_envs()
