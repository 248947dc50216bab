"""Seed-000 heuristics (`algos.heuristics.dt_inference`): local, greedy and the tiny-instance oracle."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxedge
from algos import heuristics
from algos.common.evaluation import rollout_stats
from algos.heuristics import dt_inference as dth
from jaxedge.envs import dt_inference as dti
from jaxedge.physics import tasks

TINY = dict(n_users=2, n_servers=2, n_tasks=2)


@pytest.mark.slow  # 14 s of rollouts; per state, oracle <= both greedies is test_dt_inference_bound.py's (default suite)
def test_oracle_beats_greedy_beats_random_on_tiny_instances():
    env = jaxedge.make("dt_inference", **TINY)
    params = env.default_params
    key = jax.random.PRNGKey(0)
    cost = {name: rollout_stats(env, params, heuristics.make_heuristic(env, name), key, 20, 5)["reward"]
            for name in ("oracle", "greedy", "random")}
    oracle, greedy, rand = (float(np.mean(cost[n])) for n in ("oracle", "greedy", "random"))
    assert oracle >= greedy >= rand
    assert (np.asarray(cost["oracle"]) >= np.asarray(cost["greedy"]) - 1e-4).all()


def test_greedy_beats_random_and_all_local_on_cost():
    env = jaxedge.make("dt_inference")
    params = env.default_params
    stats = {name: rollout_stats(env, params, heuristics.make_heuristic(env, name), jax.random.PRNGKey(1), 32, 50)
             for name in ("greedy", "random", "local")}
    greedy = np.asarray(stats["greedy"]["cost"])
    assert greedy.mean() < 0.5 * np.asarray(stats["random"]["cost"]).mean()
    assert greedy.mean() < np.asarray(stats["local"]["cost"]).mean()
    assert float(np.mean(stats["local"]["offload_ratio"])) == 0.0  # all-local sends nothing out
    assert float(np.mean(stats["greedy"]["offload_ratio"])) > 0.0


def test_oracle_refuses_large_instances():
    with pytest.raises(ValueError, match="tiny"):
        heuristics.make_heuristic(jaxedge.make("dt_inference"), "oracle")
    with pytest.raises(ValueError, match="choose one of"):
        heuristics.make_heuristic(jaxedge.make("dt_inference"), "nope")


@pytest.mark.parametrize("offloaded", [False, True])
@pytest.mark.parametrize("charge", [True, False])
def test_frequency_coefficients_reproduce_the_env_cost(offloaded, charge):
    """a / f + e f^2 equals the env's eq.-8 cost of computing the task at f, for any f."""
    params = dti.Params.calibrated(charge_server_energy=charge)
    cycles, _ = tasks.medmnist_cycles_and_bits(jnp.arange(12), 1.0, 64.0)
    f_user = jnp.linspace(1e9, 2e9, 12)
    a, e = dth.frequency_coefficients(cycles, f_user, offloaded, params)
    kappa = params.kappa_server if offloaded else params.kappa_user
    for f in (3e8, 1.7e9, 8e9):
        delay, energy, *_ = dti.task_delay_energy(cycles, 0.0, f, 1.0, 1.0, params.d_ref, 1.0, kappa,
                                                  offloaded, params)
        env_cost = dti.normalised_cost(delay, energy, cycles, f_user, params)
        np.testing.assert_allclose(a / f + (e if charge or not offloaded else 0.0) * f**2, env_cost, rtol=1e-5)
    # the greedy's closed form for a local task at an even split of F_i: mu_T s + mu_E / s^2
    for share in (1.0, 2.0, 3.0):
        cost = dth.option_cost(cycles, 0.0, f_user / share, 1.0, 1.0, params.d_ref, 1.0, False, f_user, params)
        np.testing.assert_allclose(cost, params.mu_time * share + params.mu_energy / share**2, rtol=1e-5)


def test_allocation_respects_capacities_and_beats_even_shares():
    """For fixed targets the KKT/sqrt shares fit every node and cost no more than asking for equal shares."""
    env = jaxedge.make("dt_inference", n_users=3, n_servers=2, n_tasks=2)
    params = env.default_params
    _, state = env.reset(jax.random.PRNGKey(3), params)
    draws = dti.StepDraws(task_type=state.task_type, fading=jnp.ones_like(state.gain),
                          twin_eps=jnp.zeros((4, 3, 2)))

    @jax.jit
    def check(target):
        shares = dth.allocation(env, state, target, params)
        freq, bandwidth, _ = env.allocate(state, *env.decode_action(spaces_action(target, shares), params))
        on = jax.nn.one_hot(target - 1, 2)  # (U, N, M), zero rows for local tasks
        used = jnp.stack([jnp.einsum("unm,un->m", on, freq), jnp.einsum("unm,un->m", on, bandwidth)])
        best = env.transition(state, spaces_action(target, shares), draws, params)[2].sum()
        even = env.transition(state, spaces_action(target, jnp.ones((3, 2, 2))), draws, params)[2].sum()
        return used, best, even

    capacity = np.stack([state.f_server, state.b_server])
    for target in np.random.default_rng(0).integers(0, 3, (5, 3, 2)):
        used, best, even = check(jnp.asarray(target, jnp.int32))
        assert (np.asarray(used) <= capacity * (1 + 1e-4)).all()
        assert float(best) >= float(even) - 1e-4


def spaces_action(target, shares):
    return jaxedge.spaces.HybridAction(target, shares)
