"""Seed-000 `dt_inference`: NumPy-reference equivalence, constraints, battery/deadline rules.

Its heuristics are tested in tests/test_heuristics_dt_inference.py.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxedge
from jaxedge.envs.dt_inference import Params
from jaxedge.reference import dt_inference as ref
from jaxedge.spaces import HybridAction

SMALL = dict(n_users=3, n_servers=2, n_tasks=2)
PRESETS = {"calibrated": Params.calibrated(), "paper": Params.paper(),
           "rayleigh_psd": Params.calibrated(rayleigh=True, noise_is_psd=True, noise=1e-21,
                                             charge_server_energy=False, deadline_penalty=1.0)}


def to_numpy_state(state):
    out = {k: np.asarray(v, np.float64) for k, v in vars(state).items()}
    out["task_type"] = np.asarray(state.task_type)
    out["t"] = np.asarray(state.t)
    return out


def to_numpy_draws(draws):
    return {"task_type": np.asarray(draws.task_type), "fading": np.asarray(draws.fading, np.float64),
            "twin_eps": np.asarray(draws.twin_eps, np.float64)}


def assert_close(jax_value, ref_value, what):
    np.testing.assert_allclose(np.asarray(jax_value, np.float64), ref_value, rtol=1e-4, atol=1e-6,
                               err_msg=what)


def jax_rollout(env, params, state, keys, batched=False):
    """Random actions, fresh draws and transitions for every key (one jitted scan, so the test
    time goes to the NumPy reference, not to eager dispatch). Returns per-step outputs."""
    space = env.action_space(params)

    def one(state, key):
        k_act, k_draw = jax.random.split(key)
        action, draws = space.sample(k_act), env.sample_step(k_draw, params)
        obs, state, reward, _, truncated, info = env.transition(state, action, draws, params)
        return state, (action, draws, obs, reward, truncated, info["metrics"])

    step = jax.vmap(one) if batched else one
    return jax.jit(lambda s, k: jax.lax.scan(step, s, k)[1])(state, keys)


def assert_steps_match(outputs, ref_state, ref_step, steps):
    actions, draws, obs, reward, truncated, metrics = jax.device_get(outputs)
    for t in range(steps):
        at = lambda tree: jax.tree_util.tree_map(lambda x: x[t], tree)  # noqa: E731
        action, draw = at(actions), at(draws)
        r_obs, ref_state, r_reward, r_trunc, r_metrics = ref_step(
            ref_state, np.asarray(action.discrete), np.asarray(action.continuous, np.float64),
            to_numpy_draws(draw))
        assert_close(obs[t], r_obs, f"obs step {t}")
        assert_close(reward[t], r_reward, f"reward step {t}")
        for name, value in r_metrics.items():
            if name.endswith("_bias"):  # a signed mean cancels: bound its rounding by the mean |term|
                atol = 1e-6 + 1e-4 * float(np.max(r_metrics[name.replace("_bias", "_error")]))
                np.testing.assert_allclose(metrics[name][t], value, rtol=1e-4, atol=atol, err_msg=f"{name} step {t}")
            else:
                assert_close(metrics[name][t], value, f"{name} step {t}")
        assert np.all(truncated[t] == r_trunc)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_matches_loop_reference_for_200_steps(preset):
    params = PRESETS[preset]
    env = jaxedge.make("dt_inference", **SMALL)
    key = jax.random.PRNGKey(0)
    k_ep, k_first, key = jax.random.split(key, 3)
    episode, first = env.sample_episode(k_ep, params), env.sample_step(k_first, params)
    state = env.initial_state(episode, first, params)
    ref_state = ref.initial_state({k: np.asarray(v, np.float64) for k, v in vars(episode).items()},
                                  to_numpy_draws(first), params, env.n_tasks)
    assert_close(env.observations(state, params), ref.observations_loop(ref_state, params, env.n_tasks), "obs0")
    keys = jax.vmap(lambda t: jax.random.fold_in(key, t))(jnp.arange(200))
    outputs = jax_rollout(env, params, state, keys)
    assert_steps_match(outputs, ref_state, lambda s, d, c, dr: ref.step_loop(s, d, c, dr, params), 200)


@pytest.mark.parametrize("preset", ["calibrated", "paper"])
def test_matches_batched_reference(preset):
    params = PRESETS[preset]
    env = jaxedge.make("dt_inference", **SMALL)
    batch = 4
    keys = jax.random.split(jax.random.PRNGKey(1), batch)
    episode = jax.vmap(env.sample_episode, in_axes=(0, None))(keys, params)
    first = jax.vmap(env.sample_step, in_axes=(0, None))(keys, params)
    state = jax.vmap(env.initial_state, in_axes=(0, 0, None))(episode, first, params)
    ref_state = ref.initial_state({k: np.asarray(v, np.float64) for k, v in vars(episode).items()},
                                  to_numpy_draws(first), params, env.n_tasks)
    step_keys = jax.vmap(lambda t: jax.random.split(jax.random.PRNGKey(1000 + t), batch))(jnp.arange(200))
    outputs = jax_rollout(env, params, state, step_keys, batched=True)
    assert_steps_match(outputs, ref_state, lambda s, d, c, dr: ref.step_batched(s, d, c, dr, params), 200)


def random_state_and_action(seed, params, env):
    """A reset state and a random action (eager; for single hand-checked transitions)."""
    key = jax.random.PRNGKey(seed)
    _, state = env.reset(key, params)
    return state, env.action_space(params).sample(jax.random.fold_in(key, 1))


_PROJECTIONS = {}


def projected(env, seed):
    """jit-cached (state, target, freq, bandwidth) for a random state and action of `env`."""
    if env not in _PROJECTIONS:
        def run(key):
            params = env.default_params
            _, state = env.reset(key, params)
            action = env.action_space(params).sample(jax.random.fold_in(key, 1))
            target, phi_f, phi_b = env.decode_action(action, params)
            freq, bw, _ = env.allocate(state, target, phi_f, phi_b)
            return state, target, freq, bw
        _PROJECTIONS[env] = jax.jit(run)
    return _PROJECTIONS[env](jax.random.PRNGKey(seed))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**30), sizes=st.sampled_from([(1, 1, 1), (3, 2, 2), (5, 4, 4), (8, 6, 3)]))
def test_projection_never_exceeds_capacity(seed, sizes):
    n_users, n_servers, n_tasks = sizes
    env = jaxedge.make("dt_inference", n_users=n_users, n_servers=n_servers, n_tasks=n_tasks)
    state, target, freq, bw = projected(env, seed)
    freq, bw, target = np.asarray(freq, np.float64), np.asarray(bw, np.float64), np.asarray(target)
    assert (freq > 0).all() and (bw >= 0).all()
    local_sum = np.where(target == 0, freq, 0).sum(1)
    assert (local_sum <= np.asarray(state.f_user) * (1 + 1e-5)).all()  # C2
    for k in range(n_servers):
        on_k = target == k + 1
        assert freq[on_k].sum() <= float(state.f_server[k]) * (1 + 1e-5)  # C3
        assert bw[on_k].sum() <= float(state.b_server[k]) * (1 + 1e-5)  # C4
    assert (bw[target == 0] == 0).all()


def test_projection_is_identity_under_capacity_and_proportional_over():
    env = jaxedge.make("dt_inference", n_users=2, n_servers=1, n_tasks=2)
    params = env.default_params
    _, state = env.reset(jax.random.PRNGKey(0), params)
    target = jnp.array([[0, 1], [1, 1]])
    phi_f = jnp.array([[0.3, 0.2], [0.3, 0.1]])  # server asks 0.6 F_k: fits
    phi_b = jnp.array([[1.0, 0.5], [0.5, 0.25]])  # server asks 1.25 B_k: scaled by 1/1.25
    freq, bw, _ = env.allocate(state, target, phi_f, phi_b)
    np.testing.assert_allclose(freq[0, 0], 0.3 * state.f_user[0], rtol=1e-6)
    np.testing.assert_allclose(freq[1], np.array([0.3, 0.1]) * state.f_server[0], rtol=1e-6)
    np.testing.assert_allclose(bw[0, 1], 0.5 / 1.25 * state.b_server[0], rtol=1e-6)
    np.testing.assert_allclose(bw[1], np.array([0.5, 0.25]) / 1.25 * state.b_server[0], rtol=1e-6)


def test_reward_is_minus_sum_of_costs_without_penalties():
    env = jaxedge.make("dt_inference", **SMALL)
    params = env.default_params
    state, action = random_state_and_action(3, params, env)
    draws = env.sample_step(jax.random.PRNGKey(9), params)
    _, _, reward, _, _, info = env.transition(state, action, draws, params)
    assert float(info["metrics"]["battery_fail"]) == 0.0
    np.testing.assert_allclose(reward.sum(), -info["metrics"]["cost"] * env.n_users * env.n_tasks, rtol=1e-5)


def test_local_task_at_full_cpu_costs_mu_t_plus_mu_e():
    # A8: with task-relative normalisation a task run locally at f = F_i costs exactly mu_T + mu_E.
    env = jaxedge.make("dt_inference", n_users=2, n_servers=1, n_tasks=1)
    params = env.default_params
    state, _ = random_state_and_action(4, params, env)
    action = HybridAction(jnp.zeros((2, 1), jnp.int32), jnp.ones((2, 1, 2)))
    _, _, reward, _, _, info = env.transition(state, action, env.sample_step(jax.random.PRNGKey(0), params), params)
    np.testing.assert_allclose(reward, -(params.mu_time + params.mu_energy), rtol=1e-5)


def test_battery_pays_user_side_energy_only_and_failures_clamp():
    env = jaxedge.make("dt_inference", n_users=1, n_servers=1, n_tasks=2)
    params = env.default_params
    state, _ = random_state_and_action(5, params, env)
    draws = env.sample_step(jax.random.PRNGKey(1), params)
    offload = HybridAction(jnp.ones((1, 2), jnp.int32), jnp.full((1, 2, 2), 0.5))
    _, nxt, _, _, _, _ = env.transition(state, offload, draws, params)
    # user-side energy of offloaded tasks = transmit energy only (server compute is not on the battery)
    target, phi_f, phi_b = env.decode_action(offload, params)
    freq, bw, _ = env.allocate(state, target, phi_f, phi_b)
    spent = float(state.battery[0] - nxt.battery[0])
    x, d = ref.FLOPS[np.asarray(state.task_type[0])], 64 * 64 * ref.CHANNELS[np.asarray(state.task_type[0])] * 8
    snr = float(state.gain[0, 0]) * float(state.p_tx[0]) * (float(state.dist[0, 0]) / 300.0) ** -3 / 1e-16
    e_tx = float(state.p_tx[0]) * np.sum(d / (np.asarray(bw[0], np.float64) * np.log2(1 + snr)))
    np.testing.assert_allclose(spent, e_tx, rtol=1e-4)
    assert e_tx < 0.1 * float(np.sum(1e-27 * np.asarray(freq[0], np.float64) ** 2 * x))
    # a nearly empty battery: the tasks fail, cost fail_cost each, battery clamps at 0
    empty = state.replace(battery=jnp.full((1,), 1e-9))
    _, nxt, reward, _, _, info = env.transition(empty, offload, draws, params)
    assert float(nxt.battery[0]) == 0.0
    assert float(info["metrics"]["battery_fail"]) == 1.0
    np.testing.assert_allclose(reward, [-2 * params.fail_cost], rtol=1e-6)


def test_deadline_miss_is_flagged_and_penalised():
    env = jaxedge.make("dt_inference", **SMALL)
    params = env.default_params.replace(deadline=1e-6, deadline_penalty=1.0)
    state, action = random_state_and_action(6, params, env)
    draws = env.sample_step(jax.random.PRNGKey(2), params)
    _, _, reward, _, _, info = env.transition(state, action, draws, params)
    _, _, reward0, _, _, _ = env.transition(state, action, draws, params.replace(deadline_penalty=0.0))
    assert float(info["metrics"]["deadline_miss"]) == 1.0
    np.testing.assert_allclose(reward, reward0 - env.n_tasks, rtol=1e-5)


def test_nan_and_out_of_range_actions_follow_the_documented_rule():
    env = jaxedge.make("dt_inference", **SMALL)
    params = env.default_params
    state, action = random_state_and_action(7, params, env)
    draws = env.sample_step(jax.random.PRNGKey(3), params)
    shape = action.discrete.shape
    weird = HybridAction(jnp.full(shape, 99, jnp.int32).at[0, 0].set(-5),
                         jnp.full(shape + (2,), jnp.nan).at[1].set(7.0))
    clean = HybridAction(jnp.full(shape, env.n_servers, jnp.int32).at[0, 0].set(0),
                         jnp.zeros(shape + (2,)).at[1].set(1.0))
    out_weird = env.transition(state, weird, draws, params)
    out_clean = env.transition(state, clean, draws, params)
    chex.assert_tree_all_finite(out_weird[:3])
    chex.assert_trees_all_close(out_weird, out_clean)


@pytest.mark.parametrize("field,value", [("noise", -1.0), ("deadline", float("inf")),
                                         ("kappa_user", 0.0), ("min_share", 1.5)])
def test_bad_params_raise_naming_the_field(field, value):
    env = jaxedge.make("dt_inference", **SMALL)
    with pytest.raises(ValueError, match=field):
        env.reset(jax.random.PRNGKey(0), env.default_params.replace(**{field: value}))


def test_inverted_range_and_zero_size_raise():
    env = jaxedge.make("dt_inference", **SMALL)
    with pytest.raises(ValueError, match="f_user_min"):
        env.validate_params(env.default_params.replace(f_user_min=3e9))
    with pytest.raises(ValueError, match="n_tasks"):
        jaxedge.make("dt_inference", n_tasks=0)
    with pytest.raises(ValueError, match="valid sizes"):
        jaxedge.make("dt_inference", n_agents=3)


def test_episode_draws_within_table1_bounds():
    env = jaxedge.make("dt_inference")
    params = env.default_params
    _, states = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(0), 256), params)
    for field, lo, hi in [("f_user", "f_user_min", "f_user_max"), ("p_tx", "p_tx_min", "p_tx_max"),
                          ("f_server", "f_server_min", "f_server_max"),
                          ("b_server", "b_server_min", "b_server_max"), ("dist", "dist_min", "dist_max"),
                          ("gain_mean", "gain_min", "gain_max")]:
        x = np.asarray(getattr(states, field))
        assert x.min() >= getattr(params, lo) * (1 - 1e-6) and x.max() <= getattr(params, hi) * (1 + 1e-6)
    assert np.asarray(states.task_type).min() == 0 and np.asarray(states.task_type).max() == 11


def test_physical_observation_round_trips_physical_state():
    env = jaxedge.make("dt_inference", **SMALL)
    params = env.default_params
    obs, state = env.reset(jax.random.PRNGKey(8), params)
    info = env.physical_observation(obs, params)
    cycles, bits = jaxedge.physics.tasks.medmnist_cycles_and_bits(state.task_type, 1.0, 64.0)
    for name, truth in [("cycles", cycles), ("bits", bits), ("f_user", state.f_user), ("gain", state.gain),
                        ("dist", state.dist), ("p_tx", state.p_tx),
                        ("f_server", jnp.broadcast_to(state.f_server, (3, 2)))]:
        np.testing.assert_allclose(info[name], truth, rtol=1e-5, err_msg=name)


def test_twin_bias_is_reported_beside_the_error_and_is_second_order():
    """Spec seed_000 A11: report the mapping bias (E T_hat - T) / T; it is O(sigma^2) (spec §9: about 4x
    smaller when sigma halves), far below the per-draw error |T_hat - T| / T, and 0 for an exact twin."""
    from algos.common.evaluation import rollout_stats

    env = jaxedge.make("dt_inference", n_users=3, n_servers=2, n_tasks=3)

    def random_policy(key, obs, state, params):
        return env.action_space(params).sample(key)

    means = {}
    for sigma in (0.0, 0.05, 0.1):
        stats = rollout_stats(env, env.default_params.replace(twin_sigma=sigma), random_policy,
                              jax.random.PRNGKey(0), 64, 50)
        means[sigma] = {k: float(np.mean(v)) for k, v in stats.items() if k.startswith("twin_")}
    assert all(v == 0.0 for v in means[0.0].values())
    for q in ("delay", "energy"):
        bias, error = means[0.05][f"twin_{q}_bias"], means[0.05][f"twin_{q}_error"]
        assert 0.0 < bias < 0.15 * error, (q, bias, error)
        assert 2.5 < means[0.1][f"twin_{q}_bias"] / bias < 6.0, (q, means)
