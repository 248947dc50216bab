"""PettingZoo's parallel API and seed tests on every jaxedge env (skipped without the extra)."""

import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

from interop_sizes import SIZES, small_env  # noqa: E402
from jaxedge.interop.pettingzoo import JaxEdgeParallelEnv  # noqa: E402


@pytest.mark.parametrize("name", sorted(SIZES))
def test_parallel_api_and_seed(name):
    env, params = small_env(name)
    parallel_api_test(JaxEdgeParallelEnv(env, params), num_cycles=20)
    parallel_seed_test(lambda: JaxEdgeParallelEnv(env, params))


def test_padded_agents_are_not_listed():
    env, params = small_env("cloud_edge")
    par = JaxEdgeParallelEnv(env, params)
    obs, infos = par.reset(seed=3)
    assert 2 <= len(par.agents) < len(par.possible_agents)
    assert set(obs) == set(infos) == set(par.agents)
    actions = {a: par.action_space(a).sample() for a in par.agents}
    obs, rewards, terms, truncs, infos = par.step(actions)
    assert set(rewards) == set(par.agents)
    assert all(infos[a]["action_mask"].all() for a in par.agents)
    with pytest.raises(ValueError, match="unknown agents"):
        par.step({"agent_99": 0})
