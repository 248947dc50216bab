"""benchmarks/v2x_profile.py on heuristics: the per-turn rows agree with the env's own cost metric,
the last vehicle under Greedy-DT takes all the bandwidth that remains, and all-local execution offloads nothing."""

import jax
import numpy as np

import jaxedge
from algos.common.evaluation import rollout_stats
from algos.heuristics import v2x as v2x_heuristics
from benchmarks import v2x_profile


def test_profile_rows_match_the_env_and_the_rules():
    env = jaxedge.make("v2x")
    params, key = env.default_params, jax.random.PRNGKey(3)
    greedy = v2x_heuristics.greedy(env)
    rows = v2x_profile.profile(env, params, greedy, key, 4, 5)
    assert set(rows) == {"cost x 1e3", "offloaded", "power fraction", "CPU fraction", "bandwidth fraction"}
    assert all(v.shape == (env.n_vehicles + 1,) for v in rows.values())
    env_cost = float(np.mean(rollout_stats(env, params, greedy, key, 4, 5)["cost"]))
    np.testing.assert_allclose(rows["cost x 1e3"][-1], env_cost * 1e3, rtol=1e-5)
    np.testing.assert_allclose(rows["cost x 1e3"][:-1].mean(), env_cost * 1e3, rtol=1e-5)  # every turn, every slot
    assert rows["bandwidth fraction"][-2] == 1.0  # the last vehicle: nobody after it, it takes all that remains
    local = v2x_profile.profile(env, params, v2x_heuristics.alcs(env), key, 2, 3)
    assert np.all(local["offloaded"] == 0.0) and np.all(np.isnan(local["power fraction"]))
