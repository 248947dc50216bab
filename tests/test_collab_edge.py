"""collab_edge (seed 003): reference equivalence, queue physics, granularity equivalence.

Its heuristics are tested in tests/test_heuristics_collab_edge.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxedge
from algos import heuristics
from jaxedge.envs import collab_edge as ce
from jaxedge.physics import queues
from jaxedge.reference import collab_edge as ref

import test_env_contract as contract


def stressed(params):
    """Servers 8x slower: queues build up and the max(., 0) floor of eq. 5 is exercised both ways."""
    return params.replace(freq=params.freq / 8.0)


PRESETS = {
    "paper": lambda B, S, per_task: ce.Params.paper(B, S, per_task),
    "literal": lambda B, S, per_task: ce.Params.literal(B, S, per_task),
    "paper_stressed": lambda B, S, per_task: stressed(ce.Params.paper(B, S, per_task)),
    "literal_stressed": lambda B, S, per_task: stressed(ce.Params.literal(B, S, per_task)),
}


def to_np_state(state, i=None):
    pick = (lambda x: np.asarray(x)) if i is None else (lambda x: np.asarray(x)[i])
    return {k: pick(getattr(state, k)) for k in ref.FIELDS}


# ------------------------------------------------------------------------------------------------
# Constants (spec §7.2)
# ------------------------------------------------------------------------------------------------
def test_constants_are_the_released_code_draws():
    p = ce.Params.paper()
    np.testing.assert_allclose(np.asarray(p.freq) / 1e9, [50, 25, 18, 32, 28, 21, 50, 17, 44, 41], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(p.rate) / 1e6, [499, 478, 461, 416, 473, 408, 500, 462, 427, 430], rtol=1e-6)
    rho = np.asarray(p.density) / 1e3  # Gcycles/Mbit
    np.testing.assert_allclose(rho[:10], [0.187806, 0.249922, 0.102423, 0.164318, 0.132456, 0.121311,
                                          0.140546, 0.173171, 0.183658, 0.212750], atol=1e-6)
    np.testing.assert_allclose(rho.sum(), 20.19077996, rtol=1e-6)
    assert p.n_max == 100 and p.episode_len == 100 * 100
    np.testing.assert_array_equal(ce.server_frequencies(13) / 1e9, [50, 25, 18, 32, 28, 21, 50, 17, 44, 41, 21, 31, 41])
    np.testing.assert_array_equal(ce.server_frequencies(10, 30) / 1e9, [18, 25, 23, 18, 21, 28, 21, 18, 17, 12])
    np.testing.assert_array_equal(ce.server_frequencies(10, 60), ce.server_frequencies(10, 70))  # A21
    assert not np.array_equal(ce.server_frequencies(10, 60, "scaled"), ce.server_frequencies(10, 70, "scaled"))
    np.testing.assert_allclose(ce.task_densities(140)[:100], ce.task_densities(100))  # prefix


# ------------------------------------------------------------------------------------------------
# Reference equivalence: JAX transition vs NumPy step_loop and step_batched, same injected draws
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("per_task", [True, False], ids=["per_task", "per_slot"])
def test_reference_equivalence_every_preset(per_task):
    """JAX (float32) vs the NumPy loop and batched references (float64), 2 envs x >= 200 steps.

    Tolerance: relative 1e-4, plus an absolute floor of 1e-4 of the largest backlog seen so far (and
    of the waits it causes): float32 rounding of eq. (5) accumulates absolute errors of order
    eps * max(Q), which stay in a queue that later drains towards 0.
    """
    B, S = (4, 6) if per_task else (10, 100)
    env = ce.CollabEdge(n_servers=B, max_tasks=S, per_task=per_task)
    n_envs, steps = 2, 240 if per_task else 200

    @jax.jit
    def rollout(params, key):  # every preset shares this compilation: Params fields are traced
        _, state0 = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, n_envs), params)

        def body(state, k):
            k_act, k_draw = jax.random.split(k)
            action = jax.vmap(env.action_space(params).sample)(jax.random.split(k_act, n_envs))
            draws = jax.vmap(env.sample_step, in_axes=(0, None))(jax.random.split(k_draw, n_envs), params)
            obs, state, reward, _, truncated, info = jax.vmap(env.transition, in_axes=(0, 0, 0, None))(
                state, action, draws, params)
            return state, (action, draws, obs, reward, truncated, info["metrics"])

        return state0, jax.lax.scan(body, state0, jax.random.split(key, steps))

    for seed, (name, make) in enumerate(PRESETS.items()):
        n_slots = 30 if per_task else 150
        params = make(B, S, per_task).replace(n_slots=n_slots)
        state0, (final, (actions, draws, obs, reward, truncated, metrics)) = jax.device_get(
            rollout(params, jax.random.PRNGKey(seed)))
        f_min = float(np.min(params.freq))
        expected = (params.n_min + params.n_max) / (2.0 * (S if per_task else 1))
        loops = [to_np_state(state0, i) for i in range(n_envs)]
        batched = to_np_state(state0)
        qmax = np.zeros(n_envs)
        for t in range(steps):
            np_draws = {"n_tasks": draws.n_tasks[t], "bits": draws.bits[t]}
            o_b, batched, r_b, tr_b, m_b = ref.step_batched(batched, actions[t], np_draws, params, per_task)
            for i in range(n_envs):
                one = {k: v[i] for k, v in np_draws.items()}
                o_l, loops[i], r_l, tr_l, m_l = ref.step_loop(loops[i], actions[t, i], one, params, per_task)
                msg = f"{name} step {t} env {i}"
                # The batched reference is the loop vectorised: same float64 numbers.
                np.testing.assert_allclose(o_b[i], o_l, rtol=1e-9, atol=1e-9, err_msg=msg)
                np.testing.assert_allclose(r_b[i], r_l, rtol=1e-9, atol=1e-9, err_msg=msg)
                assert bool(tr_b[i]) == bool(tr_l) == bool(truncated[t, i]), msg
                for k, v in m_l.items():
                    np.testing.assert_allclose(m_b[k][i], v, rtol=1e-9, atol=1e-9, err_msg=k)
                # JAX float32 vs the float64 loop.
                qmax[i] = max(qmax[i], loops[i]["queue"].max())
                q_tol = 1e-4 * qmax[i]
                d_tol = q_tol / f_min * max(float(m_l["tasks"]), 1.0) + 1e-6
                np.testing.assert_allclose(obs[t, i], o_l, rtol=1e-4, atol=q_tol / 1e9 + 1e-6, err_msg=msg)
                np.testing.assert_allclose(reward[t, i], r_l, rtol=1e-4, atol=d_tol, err_msg=msg)
                for k, v in m_l.items():
                    atol = q_tol if k.startswith("queue") else d_tol / expected
                    np.testing.assert_allclose(metrics[k][t, i], v, rtol=1e-4, atol=atol, err_msg=f"{msg} {k}")
        for i in range(n_envs):
            for k in ref.FIELDS:
                np.testing.assert_allclose(np.asarray(getattr(final, k))[i], loops[i][k], rtol=1e-4,
                                           atol=1e-4 * qmax[i] + 1e-6, err_msg=k)
        if "stressed" in name:  # the comparison covered loaded queues, not just empty ones
            assert qmax.min() > 1e10
        assert np.asarray(final.t).min() >= n_slots - 1  # episodes ran to truncation and beyond
        assert truncated[-1].all()


# ------------------------------------------------------------------------------------------------
# Queue physics (eqs. 2, 4, 5, U2)
# ------------------------------------------------------------------------------------------------
finite = dict(allow_nan=False, allow_infinity=False)
cycles_arrays = hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 1e12, **finite))
freqs = hnp.arrays(np.float64, (4,), elements=st.floats(1e8, 1e11, **finite))


@settings(max_examples=30, deadline=None)
@given(backlog=cycles_arrays, arrived=cycles_arrays, freq=freqs, extra=st.floats(0, 1e11, **finite))
def test_backlog_update_nonnegative_and_monotone(backlog, arrived, freq, extra):
    q = np.asarray(queues.backlog_update(backlog, arrived, freq, 1.0))
    assert (q >= 0).all()
    scale = backlog + arrived + freq  # float32 rounding is relative to the operands, not the result
    np.testing.assert_array_less(np.abs(q - np.maximum(backlog + arrived - freq, 0.0)), 1e-6 * scale + 1e-3)
    assert (np.asarray(queues.backlog_update(backlog, arrived + extra, freq, 1.0)) >= q).all()
    assert (np.asarray(queues.backlog_update(backlog + extra, arrived, freq, 1.0)) >= q).all()
    assert (np.asarray(queues.backlog_update(backlog, arrived, freq * 2.0, 1.0)) <= q).all()


@settings(max_examples=30, deadline=None)
@given(load=hnp.arrays(np.float64, (2, 7, 3), elements=st.floats(0, 1e10, **finite)))
def test_work_before_is_the_sequential_sum_of_earlier_tasks(load):
    got = np.asarray(queues.work_before(load))
    expect = np.zeros_like(load)
    for n in range(1, load.shape[1]):
        expect[:, n] = expect[:, n - 1] + load[:, n - 1]
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-6 * load.sum() + 1.0)
    assert (got >= 0).all()


_work_before_assigned = jax.jit(queues.work_before_assigned, static_argnums=2)  # compiled once


@settings(max_examples=30, deadline=None)
@given(cycles=hnp.arrays(np.float32, (9,), elements=st.floats(0, 1e10, width=32)),
       server=hnp.arrays(np.int32, (9,), elements=st.integers(0, 3)))
def test_work_before_assigned_matches_the_dense_cumsum(cycles, server):
    before, total = _work_before_assigned(jnp.asarray(cycles), jnp.asarray(server), 4)
    load = np.where(server[:, None] == np.arange(4), cycles[:, None].astype(np.float64), 0.0)
    dense = np.asarray(queues.work_before(load))
    np.testing.assert_allclose(before, dense[np.arange(9), server], rtol=1e-6, atol=1e-6 * load.sum() + 1.0)
    np.testing.assert_allclose(total, load.sum(0), rtol=1e-6, atol=1e-6 * load.sum() + 1.0)
    assert (np.asarray(before) >= 0).all()


@settings(max_examples=30, deadline=None)
@given(bits=st.floats(1e6, 1e8), rate=st.floats(1e8, 1e9), density=st.floats(50, 500),
       freq=st.floats(1e9, 1e11), backlog=st.floats(0, 1e12), before=st.floats(0, 1e11))
def test_delay_positive_and_decreasing_in_rate_and_frequency(bits, rate, density, freq, backlog, before):
    def delay(rate, freq):
        wait = queues.fcfs_wait(backlog, before, freq)
        return float(queues.service_delay(bits, rate, density * bits, freq, wait))

    base = delay(rate, freq)
    assert base > 0
    assert delay(rate * 1.5, freq) < base
    assert delay(rate, freq * 1.5) < base
    assert float(queues.fcfs_wait(backlog + 1e9, before, freq)) > float(queues.fcfs_wait(backlog, before, freq))


def hand_example_params(per_task):
    """2 ESs, 3 task positions: f = [10, 20] GHz, v = [500, 400] Mbit/s, rho = [100, 200, 300] cycles/bit."""
    return ce.Params.paper(2, 3, per_task, freq=jnp.array([10e9, 20e9]), rate=jnp.array([500e6, 400e6]),
                           density=jnp.array([100.0, 200.0, 300.0]), n_max=3)


def test_fcfs_wait_matches_hand_computation():
    # Backlog Q = [5, 0] Gcycles; tasks of 10, 20, 30 Mbit (g = 1, 4, 9 Gcycles) go to ES 0, 1, 0.
    #   task 0 on ES 0: wait 5/10 = 0.5 s,        delay 0.02 + 0.1 + 0.5 = 0.62 s
    #   task 1 on ES 1: wait 0/20 = 0 s,          delay 0.05 + 0.2 + 0   = 0.25 s
    #   task 2 on ES 0: wait (5 + 1)/10 = 0.6 s,  delay 0.06 + 0.9 + 0.6 = 1.56 s
    # End of slot: Q = [max(5 + 10 - 10, 0), max(0 + 4 - 20, 0)] = [5, 0] Gcycles (floor on ES 1).
    expect_delay = np.array([0.62, 0.25, 1.56])
    expect_wait = np.array([0.5, 0.0, 0.6])
    bits = np.array([10e6, 20e6, 30e6], np.float32)
    assignment = np.array([0, 1, 0])
    draws_slot = ce.Draws(n_tasks=jnp.float32(0.99), bits=jnp.full((3,), 0.5, jnp.float32))

    env = ce.CollabEdge(n_servers=2, max_tasks=3, per_task=False)
    params = hand_example_params(False)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(queue=jnp.array([5e9, 0.0]), bits=jnp.asarray(bits), n_tasks=jnp.int32(3))
    _, nxt, reward, _, _, info = jax.jit(env.transition)(state, jnp.asarray(assignment)[None], draws_slot, params)
    np.testing.assert_allclose(info["task_delay"], expect_delay, rtol=1e-6)
    np.testing.assert_allclose(reward, [-expect_delay.sum()], rtol=1e-6)
    np.testing.assert_allclose(nxt.queue, [5e9, 0.0], rtol=1e-6)
    # The episode's first step: the metrics are the per-task means of its 3 tasks (§8.1).
    np.testing.assert_allclose(info["metrics"]["wait"], expect_wait.sum() / 3, rtol=1e-6)
    np.testing.assert_allclose(info["metrics"]["delay"], expect_delay.sum() / 3, rtol=1e-6)
    # The NumPy loop reference agrees on the same hand example.
    st_np = to_np_state(state)
    _, st_np, r_np, _, _ = ref.step_loop(st_np, assignment[None], {"n_tasks": 0.99, "bits": np.full(3, 0.5)},
                                         params, False)
    np.testing.assert_allclose(r_np, [-expect_delay.sum()], rtol=1e-9)
    np.testing.assert_allclose(st_np["queue"], [5e9, 0.0], rtol=1e-9)

    # Per task: same numbers, one decision at a time, with Qbef visible in the observation.
    env = ce.CollabEdge(n_servers=2, max_tasks=3, per_task=True)
    params = hand_example_params(True)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(queue=jnp.array([5e9, 0.0]), bits=jnp.float32(bits[0]), n_tasks=jnp.int32(3))
    transition = jax.jit(env.transition)
    for n in range(3):
        u = (bits[n + 1] - 10e6) / 30e6 if n < 2 else 0.99
        draws = ce.Draws(n_tasks=jnp.float32(0.99), bits=jnp.float32(u))
        np.testing.assert_allclose(env.candidate_delays(state, params)[assignment[n]], expect_delay[n], rtol=1e-6)
        obs, state, reward, _, _, info = transition(state, jnp.array([assignment[n]]), draws, params)
        np.testing.assert_allclose(reward, [-expect_delay[n]], rtol=1e-6)
        if n == 0:  # obs_qbef: ES 0 shows Q + Qbef = 5 + 1 Gcycles
            np.testing.assert_allclose(obs[0, 2:], [6.0, 0.0], rtol=1e-6)
    assert bool(info["slot_end"])
    np.testing.assert_allclose(state.queue, [5e9, 0.0], rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Per-task and slot-level steps give the same trajectory for the same assignments
# ------------------------------------------------------------------------------------------------
def test_per_task_and_slot_steps_give_identical_trajectories():
    B, S, slots = 3, 5, 12
    slot_env = ce.CollabEdge(n_servers=B, max_tasks=S, per_task=False)
    task_env = ce.CollabEdge(n_servers=B, max_tasks=S, per_task=True)
    p_slot = stressed(ce.Params.paper(B, S, False))
    p_task = stressed(ce.Params.paper(B, S, True))
    rng = np.random.default_rng(0)
    u_n = rng.random(slots + 1).astype(np.float32)
    u_bits = rng.random((slots + 1, S)).astype(np.float32)
    assign = rng.integers(0, B, size=(slots, S))

    slot_state = slot_env.initial_state(ce.Draws(n_tasks=jnp.float32(u_n[0]), bits=jnp.asarray(u_bits[0])), p_slot)
    task_state = task_env.initial_state(ce.Draws(n_tasks=jnp.float32(u_n[0]), bits=jnp.float32(u_bits[0, 0])), p_task)
    slot_step, task_step = jax.jit(slot_env.transition), jax.jit(task_env.transition)
    for t in range(slots):
        n_t = int(slot_state.n_tasks)
        assert n_t == int(task_state.n_tasks)
        obs_s, slot_state, r_s, _, _, info_s = slot_step(
            slot_state, jnp.asarray(assign[t])[None],
            ce.Draws(n_tasks=jnp.float32(u_n[t + 1]), bits=jnp.asarray(u_bits[t + 1])), p_slot)
        delays, rewards = [], []
        for pos in range(S):
            n = int(task_state.task)
            if pos < n_t - 1:
                nxt = ce.Draws(n_tasks=jnp.float32(0.0), bits=jnp.float32(u_bits[t, pos + 1]))
            else:  # the slot's last task shows the next slot's first one; no-ops ignore draws
                nxt = ce.Draws(n_tasks=jnp.float32(u_n[t + 1]), bits=jnp.float32(u_bits[t + 1, 0]))
            obs_t, task_state, r_t, _, _, info_t = task_step(task_state, jnp.array([assign[t, n]]), nxt, p_task)
            assert bool(info_t["valid"]) == (pos < n_t)
            if pos < n_t:
                delays.append(float(info_t["task_delay"]))
            rewards.append(float(r_t[0]))
        np.testing.assert_allclose(delays, np.asarray(info_s["task_delay"])[:n_t], rtol=1e-5)
        np.testing.assert_allclose(sum(rewards), float(r_s[0]), rtol=1e-5)
        np.testing.assert_allclose(task_state.queue, slot_state.queue, rtol=1e-5, atol=1.0)
        np.testing.assert_array_equal(task_state.qbef, 0.0)
        assert int(task_state.t) == int(slot_state.t) == t + 1
        assert int(task_state.period) == t + 1 and int(task_state.pos) == 0
        # The observation of the next slot's first task agrees with the slot view.
        np.testing.assert_allclose(obs_t[0, 0], obs_s[0, 0], rtol=1e-6)
        np.testing.assert_allclose(obs_t[0, 2:], obs_s[0, 2 * S:], rtol=1e-5)
    assert float(slot_state.queue.max()) > 0  # the stressed servers built a backlog


# ------------------------------------------------------------------------------------------------
# Episode structure, padding, flags and invariants
# ------------------------------------------------------------------------------------------------
def test_padded_slots_episode_length_and_noop_steps():
    env = jaxedge.make("collab_edge", n_servers=3, max_tasks=4)
    params = stressed(env.default_params).replace(n_slots=6)
    assert params.episode_len == 24
    step = jax.jit(env.step)
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    slots_seen, count, delay_metric, total_reward, total_tasks = 0, 0, 0.0, 0.0, 0
    for t in range(params.episode_len):
        if t % 4 == 0:
            n_slot = int(state.n_tasks)  # this slot's N_t: its first n_slot steps decide tasks
        obs_prev, state_prev = obs, state
        obs, state, reward, terminated, truncated, info = step(jax.random.PRNGKey(t), state, jnp.array([t % 3]), params)
        assert bool(info["valid"]) == (t % 4 < n_slot)
        count += int(info["valid"])
        delay_metric += float(info["metrics"]["delay"])
        total_reward += float(reward[0])
        total_tasks += int(info["valid"])
        if not bool(info["valid"]):  # a no-op step: nothing but the clock moves
            assert float(reward[0]) == 0.0 and float(info["metrics"]["tasks"]) == 0.0
            np.testing.assert_array_equal(info["final_observation"], obs_prev)
            if not bool(truncated):
                np.testing.assert_array_equal(state.queue, state_prev.queue)
        else:
            assert float(reward[0]) < 0.0
        assert bool(info["slot_end"]) == (t % 4 == n_slot - 1)
        if t % 4 == 3:
            assert count == n_slot
            slots_seen, count = slots_seen + 1, 0
        assert bool(truncated) == (t == params.episode_len - 1) and not bool(terminated)
    assert slots_seen == 6
    # The episode mean of metrics["delay"] is the paper's per-task mean: total delay / actual task count
    # (it used to divide by the expected count, (n_min + n_max) / 2 per slot: a few % off).
    np.testing.assert_allclose(delay_metric / params.episode_len, -total_reward / total_tasks, rtol=1e-5)
    expected_count = (params.n_min + params.n_max) / 2 * params.n_slots
    assert abs(total_tasks - expected_count) > 0.5  # this episode's count differs from the expected one
    assert total_tasks >= 6
    assert int(state.t) == 0 and int(state.tasks_done) == 0  # auto-reset after 24 steps


def test_delay_metric_is_the_per_task_mean_of_any_window_from_reset_and_of_the_episode():
    """evaluate's window from reset and LogWrapper's episode both report sum(delay) / actual task count."""
    from algos.common.evaluation import rollout_stats
    from jaxedge.wrappers import LogWrapper

    env = ce.CollabEdge(n_servers=3, max_tasks=8, per_task=False)
    params = stressed(env.default_params).replace(n_slots=50)
    rr = heuristics.make_heuristic(env, "round_robin")
    stats = rollout_stats(env, params, rr, jax.random.PRNGKey(0), 4, 7)  # 7 steps of 50-step episodes
    pooled = np.asarray(stats["delay_step"]) / np.asarray(stats["tasks"])
    np.testing.assert_allclose(stats["delay"], pooled, rtol=1e-5)

    env = ce.CollabEdge(n_servers=3, max_tasks=4, per_task=True)
    params = stressed(env.default_params).replace(n_slots=3)
    log = LogWrapper(env)
    obs, state = log.reset(jax.random.PRNGKey(1), params)
    delay, tasks = 0.0, 0
    for t in range(params.episode_len):
        obs, state, reward, _, truncated, info = log.step(jax.random.PRNGKey(t), state, jnp.array([t % 3]), params)
        delay, tasks = delay - float(reward[0]), tasks + int(info["valid"])
    assert bool(truncated)
    np.testing.assert_allclose(info["returned_episode_metrics"]["delay"], delay / tasks, rtol=1e-5)


def test_paper_preset_follows_n_max_above_100():
    """Fig. 5(a) sweeps N_max in 60..140 (spec §7.2): Params.paper(max_tasks=140) draws N_t up to 140."""
    for n in (60, 140):
        p = ce.Params.paper(4, n, per_task=False)
        assert p.n_max == n and p.density.shape == (n,)
    env = ce.CollabEdge(n_servers=4, max_tasks=140, per_task=False)
    keys = jax.random.split(jax.random.PRNGKey(0), 64)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, env.default_params)
    assert int(state.n_tasks.max()) > 100
    swept = ce.Params.paper(4, 140, per_task=False, n_max=60)  # a sweep point inside the same padding
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, swept)
    assert 40 < int(state.n_tasks.max()) <= 60


def test_queues_never_negative_and_obs_finite_over_rollouts():
    env = ce.CollabEdge(n_servers=4, max_tasks=8, per_task=False)
    space = env.action_space(env.default_params)

    @jax.jit
    def run(params):
        def body(state, key):
            k_a, k_s = jax.random.split(key)
            obs, state, reward, *_ = env.step(k_s, state, space.sample(k_a), params)
            return state, (state.queue, obs, reward)

        _, state = env.reset(jax.random.PRNGKey(0), params)
        return jax.lax.scan(body, state, jax.random.split(jax.random.PRNGKey(1), 300))[1]

    for params in (env.default_params, stressed(env.default_params)):
        q, obs, reward = run(params)
        assert (np.asarray(q) >= 0).all() and np.isfinite(obs).all() and (np.asarray(reward) <= 0).all()
    assert np.asarray(q).max() > 1e10  # the stressed run really queued work


def test_next_state_queue_quirk_and_obs_qbef_flags():
    env = ce.CollabEdge(n_servers=3, max_tasks=4, per_task=True)
    base = stressed(ce.Params.paper(3, 4, True))
    _, state = env.reset(jax.random.PRNGKey(0), base)
    state = state.replace(queue=jnp.array([3e9, 2e9, 1e9]), n_tasks=jnp.int32(2))
    draws = ce.Draws(n_tasks=jnp.float32(0.1), bits=jnp.float32(0.5))
    for quirk, qbef in ((False, True), (True, True), (False, False)):
        params = base.replace(next_state_queue_quirk=quirk, obs_qbef=qbef)
        obs1, s1, *_ = env.transition(state, jnp.array([0]), draws, params)  # first task of 2
        shown = np.asarray(s1.queue + (s1.qbef if qbef else 0.0)) / 1e9
        np.testing.assert_allclose(obs1[0, 2:], shown, rtol=1e-6)
        assert (float(s1.qbef[0]) > 0) and (obs1[0, 2] > 3.0) == qbef
        obs2, s2, _, _, _, info = env.transition(s1, jnp.array([1]), draws, params)  # last task: slot ends
        assert bool(info["slot_end"])
        assert float(s2.queue.max()) > 0
        if quirk:
            np.testing.assert_array_equal(obs2[0, 2:], 0.0)  # [C]'s zero-queue s'
        else:
            np.testing.assert_allclose(obs2[0, 2:], np.asarray(s2.queue) / 1e9, rtol=1e-6)
        obs3, *_ = env.transition(s2, jnp.array([1]), draws, params)  # no-op: the true queue again
        np.testing.assert_allclose(obs3[0, 2:], np.asarray(s2.queue) / 1e9, rtol=1e-6)


def test_action_rule_clips_and_maps_non_finite_to_server_zero():
    env = ce.CollabEdge(n_servers=3, max_tasks=4, per_task=False)
    params = stressed(env.default_params)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    state = state.replace(queue=jnp.array([1e9, 2e9, 3e9]))
    draws = env.sample_step(jax.random.PRNGKey(1), params)

    def out(action):
        _, nxt, reward, _, _, info = env.transition(state, jnp.asarray(action)[None], draws, params)
        return np.asarray(reward), np.asarray(nxt.queue)

    for weird, clean in (([7, -2, 1, 99], [2, 0, 1, 2]), ([np.nan, np.inf, 1.7, -np.inf], [0, 0, 1, 0])):
        got, want = out(np.asarray(weird, np.float32 if np.isnan(weird).any() else np.int32)), out(np.asarray(clean))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert np.isfinite(got[0]).all()
    # The NumPy reference applies the same rule.
    a = np.array([[np.nan, np.inf, 1.7, -3.0]])
    np.testing.assert_array_equal(ref.decode_action(a, 3), [[0, 0, 1, 0]])


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(freq=jnp.ones(4) * 1e10), "freq"),
        (dict(rate=-jnp.ones(3)), "rate"),
        (dict(density=jnp.ones(2)), "density"),
        (dict(n_max=9), "n_max"),
        (dict(n_min=5, n_max=3), "n_min"),
        (dict(bits_min=5e7), "bits_min"),
        (dict(slot_len=0.0), "slot_len"),
        (dict(n_slots=float("nan")), "n_slots"),
    ],
)
def test_bad_params_raise_naming_the_field(change, field):
    env = ce.CollabEdge(n_servers=3, max_tasks=4)
    with pytest.raises(ValueError, match=field):
        env.reset(jax.random.PRNGKey(0), env.default_params.replace(**change))


def test_params_of_the_other_granularity_are_rejected():
    env = ce.CollabEdge(n_servers=3, max_tasks=4, per_task=True)
    with pytest.raises(ValueError, match="steps_per_slot"):
        env.reset(jax.random.PRNGKey(0), ce.Params.paper(3, 4, per_task=False))
    with pytest.raises(ValueError, match="max_tasks"):
        ce.CollabEdge(n_servers=3, max_tasks=0)


# ------------------------------------------------------------------------------------------------
# The generic contract for the slot-level granularity (the registry's SMALL_SIZES covers per task)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("check", [
    "test_jit_matches_no_jit", "test_step_traces_once",
    "test_vec_env_matches_vmapped_step_across_resets", "test_auto_reset_and_final_observation",
    "test_spaces_sample_is_contained", "test_wrong_action_shape_raises", "test_log_wrapper_reports_episode_returns",
])
def test_slot_level_env_meets_the_contract(check):
    env = jaxedge.make("collab_edge", n_servers=3, max_tasks=6, per_task=False)
    params = env.default_params.replace(n_slots=20)
    getattr(contract, check)((env, params))
