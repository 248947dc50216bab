"""gymnax's Gym wrapper and PureJaxRL-style wrappers run jaxedge envs through `GymnaxAdapter`
(skipped without the `interop` extra)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("gymnax")

from flax import struct  # noqa: E402
from gymnax.environments import spaces as gx  # noqa: E402
from gymnax.wrappers.gym import GymnaxToGymWrapper  # noqa: E402
from gymnax.wrappers.purerl import FlattenObservationWrapper, GymnaxWrapper  # noqa: E402

from interop_sizes import SIZES, small_env  # noqa: E402
from jaxedge.interop.gymnax import GymnaxAdapter  # noqa: E402


@struct.dataclass
class LogEnvState:
    env_state: object
    episode_returns: float
    returned_episode_returns: float


class LogWrapper(GymnaxWrapper):
    """PureJaxRL's LogWrapper pattern (returns of finished episodes)."""

    def reset(self, key, params=None):
        obs, state = self._env.reset(key, params)
        return obs, LogEnvState(state, jnp.float32(0), jnp.float32(0))

    def step(self, key, state, action, params=None):
        obs, env_state, reward, terminated, truncated, info = self._env.step(key, state.env_state, action, params)
        done = terminated | truncated
        ret = state.episode_returns + reward
        state = LogEnvState(env_state, ret * (1 - done), jnp.where(done, ret, state.returned_episode_returns))
        return obs, state, reward, terminated, truncated, {**info, "returned_episode_returns": state.returned_episode_returns}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_gym_wrapper_and_purerl_wrappers(name):
    env, params = small_env(name)
    adapter = GymnaxAdapter(env)
    assert isinstance(adapter.action_space(params), (gx.Discrete, gx.Box, gx.Dict))
    gym_env = GymnaxToGymWrapper(adapter, params, seed=0)
    obs, _ = gym_env.reset(seed=0)
    assert gym_env.observation_space.shape == np.shape(obs)
    for _ in range(int(params.episode_len)):
        obs, reward, terminated, truncated, info = gym_env.step(gym_env.action_space.sample())
    assert bool(truncated) and np.ndim(reward) == 0

    wrapped = LogWrapper(FlattenObservationWrapper(adapter))
    key = jax.random.PRNGKey(0)
    obs, state = jax.vmap(wrapped.reset, in_axes=(0, None))(jax.random.split(key, 4), params)
    space = adapter.action_space(params)

    def body(carry, k):
        state, total = carry
        act = jax.vmap(space.sample)(jax.random.split(k, 4))
        obs, state, reward, term, trunc, info = jax.vmap(wrapped.step, in_axes=(0, 0, 0, None))(
            jax.random.split(k, 4), state, act, params)
        return (state, total + reward), info["returned_episode_returns"]

    keys = jax.random.split(key, int(params.episode_len))
    (state, total), returned = jax.jit(lambda s: jax.lax.scan(body, (s, jnp.zeros(4)), keys))(state)
    assert obs.shape == (4, int(np.prod(adapter.observation_space(params).shape)))
    np.testing.assert_allclose(returned[-1], total, rtol=1e-5)
