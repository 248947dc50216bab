"""Gymnasium's env checker and episode-statistics wrappers on every jaxedge env (skipped without
the `interop` extra)."""

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402
from gymnasium.wrappers import RecordEpisodeStatistics  # noqa: E402
from gymnasium.wrappers.vector import RecordEpisodeStatistics as VectorRecordEpisodeStatistics  # noqa: E402

from interop_sizes import SIZES, small_env  # noqa: E402
from jaxedge.interop.gymnasium import ENV_IDS, JaxEdgeEnv, JaxEdgeVectorEnv  # noqa: E402


@pytest.mark.parametrize("name", sorted(SIZES))
def test_check_env_and_record_episode_statistics(name):
    env, params = small_env(name)
    made = gym.make(ENV_IDS[name], params=params, **SIZES[name])
    assert isinstance(made.unwrapped, JaxEdgeEnv)
    check_env(made.unwrapped, skip_render_check=name != "collab_edge")
    wrapped = RecordEpisodeStatistics(made)
    obs, _ = wrapped.reset(seed=0)
    total, done, info = 0.0, False, {}
    while not done:
        obs, reward, terminated, truncated, info = wrapped.step(wrapped.action_space.sample())
        assert wrapped.observation_space.contains(obs)
        total += reward
        done = terminated or truncated
    assert info["episode"]["l"] == int(params.episode_len)
    np.testing.assert_allclose(info["episode"]["r"], total, rtol=1e-5)
    assert set(info["metrics"]) and info["rewards"].shape == (env.num_agents,)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_autoreset_and_statistics(mode):
    env, params = small_env("slicing")
    vec = JaxEdgeVectorEnv(env, num_envs=3, params=params, autoreset_mode=mode)
    length = int(params.episode_len)
    if mode == AutoresetMode.NEXT_STEP:  # Gymnasium's RecordEpisodeStatistics assumes this mode
        vec = VectorRecordEpisodeStatistics(vec)
    obs, _ = vec.reset(seed=1)
    assert obs.shape == (3,) + vec.single_observation_space.shape
    for t in range(length + 2):
        obs, reward, terminated, truncated, info = vec.step(vec.action_space.sample())
        assert vec.observation_space.contains(obs) and reward.shape == (3,)
        if t == length - 1:
            assert truncated.all()
            if mode == AutoresetMode.NEXT_STEP:
                assert (info["episode"]["l"] == length).all()
            else:
                assert info["_final_obs"].all() and info["final_obs"].shape == obs.shape
        if t == length and mode == AutoresetMode.NEXT_STEP:
            assert (reward == 0).all() and not truncated.any()  # the reset step


def test_make_vec_and_bad_input():
    vec = gym.make_vec(ENV_IDS["collab_edge"], num_envs=2, vectorization_mode="vector_entry_point",
                       **SIZES["collab_edge"])
    vec.reset(seed=0)
    vec.step(vec.action_space.sample())
    with pytest.raises(ValueError, match="reward must be"):
        JaxEdgeEnv("collab_edge", reward="max")
    env = JaxEdgeEnv("v2x", **SIZES["v2x"])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="hybrid action must be a dict"):
        env.step(np.zeros(3))
