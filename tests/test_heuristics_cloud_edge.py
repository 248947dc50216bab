"""Seed-004 heuristics (`algos.heuristics.cloud_edge`): fixed x, greedy and channel de-collision."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxedge
from algos import heuristics
from algos.heuristics import cloud_edge as cdh
from jaxedge.envs import cloud_edge as ce

ENV = jaxedge.make("cloud_edge")  # 7 cells x 6 UE slots: fits every preset


def np_tree(x):
    return jax.tree_util.tree_map(np.asarray, x)


def test_heuristics_show_channel_collisions_dominate_and_decollision_removes_them():
    """Same greedy offloading choices, random vs de-collided channels, one round from 256 resets.

    With (U4) every offloaded task waits for its own upload, so a same-channel near-far pair blows up
    the round time (spec §2.11). Under literal (12) a cloud task's upload is not timed (A16), so on
    a cold cache (greedy offloads everything to the cloud) collisions show in the energy only.
    """
    greedy = heuristics.make_heuristic(ENV, "greedy")
    decollide = heuristics.make_heuristic(ENV, "greedy_decollide")

    @jax.jit
    def one_round(key, params):
        k_reset, k_pol, k_step = jax.random.split(key, 3)
        obs, state = ENV.reset(k_reset, params)
        draws = ENV.sample_step(k_step, params, state.ue_type)
        out_g = ENV.transition(state, greedy(k_pol, obs, state, params), draws, params)
        out_d = ENV.transition(state, decollide(k_pol, obs, state, params), draws, params)
        return out_g[5]["metrics"], out_d[5]["metrics"]

    keys = jax.random.split(jax.random.PRNGKey(0), 256)
    for fixed in (True, False):
        params = ce.Params.small(exec_time_fixed=fixed)
        m_g, m_d = np_tree(jax.vmap(one_round, in_axes=(0, None))(keys, params))
        np.testing.assert_array_equal(m_g["cloud_ratio"], m_d["cloud_ratio"])  # same offloading choices
        assert m_d["collision_ratio"].max() == 0.0
        assert m_g["collision_ratio"].mean() > 0.2
        assert np.all(m_d["round_time"] <= m_g["round_time"] * (1 + 1e-5))
        assert m_g["energy"].mean() > 5 * m_d["energy"].mean()
        if fixed:
            assert m_g["round_time"].mean() > 5 * m_d["round_time"].mean()  # collisions dominate
            assert np.median(m_g["round_time"]) > 1.5 * np.median(m_d["round_time"])


def test_fixed_policies_send_where_they_say_and_greedy_beats_random():
    params = ENV.default_params
    names = ("local", "edge", "cloud", "greedy", "random")
    policies = [heuristics.make_heuristic(ENV, name) for name in names]

    @jax.jit
    def one_round(key):
        k_reset, k_pol, k_step = jax.random.split(key, 3)
        obs, state = ENV.reset(k_reset, params)
        draws = ENV.sample_step(k_step, params, state.ue_type)
        return [ENV.transition(state, pol(k_pol, obs, state, params), draws, params)[5]["metrics"] for pol in policies]

    stats = dict(zip(names, np_tree(jax.vmap(one_round)(jax.random.split(jax.random.PRNGKey(1), 64)))))
    for name in ("local", "edge", "cloud"):
        assert float(stats[name][f"{name}_ratio"].mean()) == 1.0, name
    assert float(stats["local"]["collision_ratio"].mean()) == 0.0  # nothing sent, nothing collides
    assert float(stats["edge"]["collision_ratio"].mean()) == 0.0  # distinct channels per cell
    assert stats["greedy"]["cost"].mean() < stats["random"]["cost"].mean()


def test_greedy_local_ratio_minimises_the_env_cost_of_a_local_task():
    """b from the closed form is the grid argmin of w1 T1(0) + w2 E^c as the env computes them."""
    for params in (ce.Params.small(), ce.Params.small(w_energy=5.0), ce.Params.small(w_energy=0.0)):
        _, state = ENV.reset(jax.random.PRNGKey(0), params)
        _, b = cdh.greedy_choice(ENV, state, params)
        work = state.task_sizes[:1, 2]
        grid = jnp.linspace(params.min_ratio, 1.0, 2001)
        cost = ce.weighted_cost(*ce.local_compute(work, grid, params), params)
        np.testing.assert_allclose(float(b), float(grid[jnp.argmin(cost)]), atol=1e-3)
