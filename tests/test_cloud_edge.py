"""Seed 004 `cloud_edge`: reference equivalence, cache policies, physics properties, bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxedge
from jaxedge import spaces
from jaxedge.envs import cloud_edge as ce
from jaxedge.physics import cache as cl
from jaxedge.reference import cloud_edge as ref

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENV = jaxedge.make("cloud_edge")  # 7 cells x 6 UE slots: fits every preset


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def np_tree(x):
    return jax.tree_util.tree_map(np.asarray, x)


def controlled_state(env, params, n_ues, dist, tasks, ue_type=None):
    """A state with given UEs per cell, distances and tasks (no fading)."""
    n = env.num_agents
    ep = ce.EpisodeDraws(
        n_ues=jnp.asarray(n_ues, jnp.int32),
        dist=jnp.asarray(dist, jnp.float32),
        ue_type=jnp.zeros(n, jnp.int32) if ue_type is None else jnp.asarray(ue_type, jnp.int32),
    )
    draws = ce.StepDraws(task=jnp.asarray(tasks, jnp.int32), fade_ue=jnp.ones(n), fade_ec=jnp.ones(env.n_cells))
    return env.initial_state(ep, draws, params)


def action(x, l, a, b):
    disc = jnp.stack([jnp.asarray(x, jnp.int32), jnp.asarray(l, jnp.int32)], -1)
    cont = jnp.stack([jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)], -1)
    return spaces.HybridAction(disc, cont)


def same_draws(env, tasks):
    return ce.StepDraws(task=jnp.asarray(tasks, jnp.int32), fade_ue=jnp.ones(env.num_agents),
                        fade_ec=jnp.ones(env.n_cells))


TRANSITION = jax.jit(ENV.transition)
RESET = jax.jit(ENV.reset)


# ------------------------------------------------------------------------------------------------
# Reference equivalence: JAX transition vs NumPy step_loop and step_batched, same draws
# ------------------------------------------------------------------------------------------------
CASES = [
    ("small", {}),
    ("medium", dict(cache_policy=1, cache_capacity=120e6)),
    ("large", dict(rayleigh=True, exec_time_fixed=True)),
    ("table_i", dict(interference_gain=False, cache_capacity=80e6)),
    ("small", dict(cache_policy=1, insert_if_fits=True, interference_all=True, rate_floor=1e5)),
]
STEPS = 200


@jax.jit
def _jax_rollout(state, actions, draws, params):
    def body(s, inp):
        act, dr = inp
        obs, s, reward, _, trunc, info = ENV.transition(s, act, dr, params)
        return s, (obs, reward, trunc, info, s.cache.item)

    return jax.lax.scan(body, state, (actions, draws))[1]


def _random_actions(key, steps, n, n_channels):
    """Biased towards offloading (to exercise the caches), with out-of-range and NaN entries."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    x = jax.random.choice(k1, 3, (steps, n), p=jnp.array([0.2, 0.5, 0.3]))
    x = jnp.where(jax.random.uniform(k4, (steps, n)) < 0.02, 5, x)  # out of range -> clipped to 2
    l = jax.random.randint(k2, (steps, n), -1, n_channels + 1)  # noqa: E741  (-1, L clipped)
    cont = jax.random.uniform(k3, (steps, n, 2), minval=-0.1, maxval=1.1)
    cont = cont.at[::17, 0, 0].set(jnp.nan).at[::23, 1, 1].set(jnp.inf)
    return spaces.HybridAction(jnp.stack([x, l], -1).astype(jnp.int32), cont)


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{p}-{'-'.join(o) or 'default'}" for p, o in CASES])
def test_transition_matches_numpy_references(case):
    preset, overrides = CASES[case]
    params = getattr(ce.Params, preset)(**overrides)
    key = jax.random.PRNGKey(case)
    k_ep, k_step, k_act, k_draws = jax.random.split(key, 4)
    ep = ENV.sample_episode(k_ep, params)
    state = ENV.initial_state(ep, ENV.sample_step(k_step, params, ep.ue_type), params)
    actions = _random_actions(k_act, STEPS, ENV.num_agents, ENV.n_channels)
    draws = jax.vmap(lambda k: ENV.sample_step(k, params, ep.ue_type))(jax.random.split(k_draws, STEPS))
    obs, reward, trunc, info, items = np_tree(_jax_rollout(state, actions, draws, params))

    ep_np, d0 = vars(np_tree(ep)), vars(np_tree(ENV.sample_step(k_step, params, ep.ue_type)))
    loop_state = ref.initial_state_loop(ENV, ep_np, d0, params)
    batch_state = ref.initial_state_batched(
        ENV, {k: v[None] for k, v in ep_np.items()}, {k: v[None] for k, v in d0.items()}, params
    )
    disc, cont, dr = np.asarray(actions.discrete), np.asarray(actions.continuous), vars(np_tree(draws))
    hits = 0.0
    for t in range(STEPS):
        d_t = {k: v[t] for k, v in dr.items()}
        lo, loop_state, lr, ltr, lm, lv = ref.step_loop(ENV, loop_state, disc[t], cont[t], d_t, params)
        bo, batch_state, br, btr, bm, bv = ref.step_batched(
            ENV, batch_state, disc[t][None], cont[t][None], {k: v[None] for k, v in d_t.items()}, params
        )
        np.testing.assert_allclose(obs[t], lo, rtol=1e-4, atol=1e-6, err_msg=f"obs t={t}")
        np.testing.assert_allclose(obs[t], bo[0], rtol=1e-4, atol=1e-6, err_msg=f"obs(batched) t={t}")
        np.testing.assert_allclose(reward[t], lr, rtol=1e-4, err_msg=f"reward t={t}")
        np.testing.assert_allclose(reward[t], br[0], rtol=1e-4, err_msg=f"reward(batched) t={t}")
        np.testing.assert_allclose(info["vector_reward"][t], lv, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(info["vector_reward"][t], bv[0], rtol=1e-4, atol=1e-9)
        for name, value in lm.items():
            np.testing.assert_allclose(info["metrics"][name][t], value, rtol=1e-4, atol=1e-7, err_msg=name)
            np.testing.assert_allclose(info["metrics"][name][t], bm[name][0], rtol=1e-4, atol=1e-7, err_msg=name)
        assert bool(trunc[t]) == ltr == bool(btr[0])
        for k in range(ENV.n_cells):  # same cached results in every edge server
            jax_items = set(items[t, k][items[t, k] >= 0].tolist())
            assert jax_items == set(loop_state["caches"][k].store), (t, k)
        hits += lm["cache_hit_ratio"]
    assert hits > 0  # the caches were exercised


# ------------------------------------------------------------------------------------------------
# Caches
# ------------------------------------------------------------------------------------------------
def _stream(seed, length, n_types=40):
    rng = np.random.default_rng(seed)
    items = (rng.zipf(1.3, length) - 1) % n_types
    sizes = rng.integers(1, 60, n_types)[items]
    active = rng.random(length) < 0.9
    return items.astype(np.int32), sizes.astype(np.int32), active


@pytest.mark.parametrize("policy", [cl.LRU, cl.LFU])
@pytest.mark.parametrize("insert_if_fits", [False, True])
def test_cache_evicts_exactly_as_python_reference(policy, insert_if_fits):
    slots, capacity, length = 8, 150, 3000
    items, sizes, active = _stream(policy * 2 + insert_if_fits, length)

    @jax.jit
    def run(items, sizes, active):
        def body(c, inp):
            m, s, a = inp
            c, hit = cl.access(c, m, s, capacity, policy, insert_if_fits, a)
            return c, (c.item, hit, cl.used_kbit(c))

        return jax.lax.scan(body, cl.empty((), slots), (items, sizes, active))[1]

    jax_items, jax_hits, used = np_tree(run(items, sizes, active))
    cache = (ref.LFUCache if policy == cl.LFU else ref.LRUCache)(capacity, slots, insert_if_fits)
    n_hits = evictions = 0
    for t in range(length):
        hit = cache.access(int(items[t]), int(sizes[t]), t) if active[t] else False
        assert bool(jax_hits[t]) == hit, t
        row = jax_items[t]
        assert set(row[row >= 0].tolist()) == set(cache.store), t
        if policy == cl.LRU:  # slots are kept in eviction order: the LRU order itself
            assert row[row >= 0].tolist() == list(cache.store), t
        assert used[t] == cache.used() <= capacity
        n_hits += hit
        evictions += t > 0 and len(cache.store) < np.sum(jax_items[t - 1] >= 0)
    assert n_hits > 100
    if not insert_if_fits:
        assert evictions > 50


def test_lfu_differs_from_lru_on_a_toy_stream():
    # capacity 3 results of size 1: A A A B C then D evicts B under LFU (count 1, older than C)
    # and A under LRU (least recently used).
    seq = jnp.array([0, 0, 0, 1, 2, 3], jnp.int32)
    ones = jnp.ones(6, jnp.int32)
    for policy, evicted in ((cl.LRU, 0), (cl.LFU, 1)):
        c, _ = jax.jit(cl.access_sequence, static_argnums=(5, 6))(
            cl.empty((), 3), seq, ones, jnp.ones(6, bool), 3, policy, False)
        kept = set(np.asarray(c.item).tolist())
        assert kept == {0, 1, 2, 3} - {evicted}, (policy, kept)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    slots=st.sampled_from([1, 3, 8]),
    capacity=st.integers(0, 200),
    policy=st.sampled_from([cl.LRU, cl.LFU]),
    insert_if_fits=st.booleans(),
)
def test_cache_occupancy_never_exceeds_capacity(seed, slots, capacity, policy, insert_if_fits):
    items, sizes, active = _stream(seed, 300, n_types=25)
    c = cl.empty((), slots)
    run = _cache_scan(slots)
    item_rows, used = run(c, items, sizes, active, capacity, policy, insert_if_fits)
    item_rows, used = np.asarray(item_rows), np.asarray(used)
    assert np.all(used <= capacity) and np.all(used >= 0)
    present = item_rows >= 0
    assert np.all(present.sum(-1) <= slots)
    # occupied slots form a prefix and hold distinct task types
    assert np.all(present[:, :-1] >= present[:, 1:])
    for row in item_rows:
        kept = row[row >= 0]
        assert len(set(kept.tolist())) == len(kept)


_SCANS = {}


def _cache_scan(slots):
    if slots not in _SCANS:
        @jax.jit
        def run(c, items, sizes, active, capacity, policy, insert_if_fits):
            def body(c, inp):
                m, s, a = inp
                c, _ = cl.access(c, m, s, capacity, policy, insert_if_fits, a)
                return c, (c.item, cl.used_kbit(c))

            return jax.lax.scan(body, c, (items, sizes, active))[1]

        _SCANS[slots] = run
    return _SCANS[slots]


def test_repeated_task_hits_and_saves_exactly_the_edge_compute_time():
    env = jaxedge.make("cloud_edge", n_cells=2, ues_per_cell=2, n_channels=2, cache_slots=4)
    params = env.default_params.replace(n_edges=1, ue_min=1, ue_max=1)
    transition, observations = jax.jit(env.transition), jax.jit(env.observations)
    m = 7
    tasks = [m, 0, 0, 0]
    state = controlled_state(env, params, [1, 0], [150.0] * 4, tasks)
    act = action([1, 0, 0, 0], [0] * 4, [1.0] * 4, [1.0] * 4)
    obs0 = observations(state, params)
    assert float(obs0[0, 2]) > 0  # T*_1(1) > 0 before caching
    _, s1, r1, _, _, info1 = transition(state, act, same_draws(env, tasks), params)
    assert bool(cl.lookup(jax.tree_util.tree_map(lambda x: x[0], s1.cache), m))
    obs1, s2, r2, _, _, info2 = transition(s1, act, same_draws(env, tasks), params)
    assert float(info1["metrics"]["cache_hit_ratio"]) == 0.0
    assert float(info2["metrics"]["cache_hit_ratio"]) == 1.0
    work = float(params.task_si[m]) * float(params.task_c[m])
    saved = float(info1["metrics"]["round_time"]) - float(info2["metrics"]["round_time"])
    assert saved == pytest.approx(work / float(params.f_edge), rel=1e-5)
    # the communication time and energy are unchanged by the hit (A17 literal)
    assert float(info2["metrics"]["energy"]) == pytest.approx(float(info1["metrics"]["energy"]), rel=1e-6)
    # the observation's T*_1(1) feature reflects the cache: log1p(0) = 0
    assert float(observations(s1, params)[0, 2]) == 0.0
    # a cloud task gets no saving from the same cached result
    act_cloud = action([2, 0, 0, 0], [0] * 4, [1.0] * 4, [1.0] * 4)
    _, _, _, _, _, i_cold = transition(state, act_cloud, same_draws(env, tasks), params)
    _, _, _, _, _, i_warm = transition(s1, act_cloud, same_draws(env, tasks), params)
    assert float(i_warm["metrics"]["round_time"]) == pytest.approx(float(i_cold["metrics"]["round_time"]), rel=1e-6)
    # ... so its lookup is not a hit in the metric (it used to count: 1.0 here)
    assert float(i_warm["metrics"]["cache_hit_ratio"]) == 0.0
    # an edge task missing and a cloud task on the cached result: 0 of 1 edge tasks hit (was 1 of 2)
    s1b = controlled_state(env, params, [2, 0], [150.0] * 4, [0, m, 0, 0]).replace(cache=s1.cache)
    act_mix = action([1, 2, 0, 0], [0, 1, 0, 0], [1.0] * 4, [1.0] * 4)
    _, _, _, _, _, i_mix = transition(s1b, act_mix, same_draws(env, [0, m, 0, 0]), params)
    assert float(i_mix["metrics"]["cache_hit_ratio"]) == 0.0


def test_caches_empty_at_reset_and_persist_across_rounds():
    params = ce.Params.small()
    obs, state = RESET(jax.random.PRNGKey(0), params)
    assert np.all(np.asarray(state.cache.item) == -1)
    n = ENV.num_agents
    x = jnp.ones((STEPS, n), jnp.int32)
    l = jnp.broadcast_to(jnp.arange(n) % ENV.ues_per_cell, (STEPS, n))  # noqa: E741
    actions = spaces.HybridAction(jnp.stack([x, l], -1), jnp.ones((STEPS, n, 2)))
    draws = jax.vmap(lambda k: ENV.sample_step(k, params, state.ue_type))(jax.random.split(jax.random.PRNGKey(1), STEPS))
    _, _, _, info, items = np_tree(_jax_rollout(state, actions, draws, params))
    fill, hit = info["metrics"]["cache_fill"], info["metrics"]["cache_hit_ratio"]
    assert fill[0] > 0 and fill.max() <= 1.0
    assert hit[0] == 0 and hit[50:].mean() > 0.05  # results cached in earlier rounds are hit later
    assert np.all(np.diff(fill) >= -0.25)  # the caches carry over instead of emptying
    assert np.all((items >= 0).sum(-1)[:, int(params.n_edges):] == 0)  # no cache at inactive edges


# ------------------------------------------------------------------------------------------------
# Physics properties
# ------------------------------------------------------------------------------------------------
SMALL = jaxedge.make("cloud_edge", n_cells=2, ues_per_cell=3, n_channels=3, cache_slots=4)
SMALL_TRANSITION = jax.jit(SMALL.transition)


def _small_state(seed, params):
    rng = np.random.default_rng(seed)
    return controlled_state(
        SMALL, params, [3, 3], rng.uniform(5.0, 200.0, 6), rng.integers(0, 200, 6), rng.integers(0, 6, 6)
    )


@SETTINGS
@given(seed=st.integers(0, 10_000), x=st.lists(st.integers(0, 2), min_size=6, max_size=6),
       l=st.lists(st.integers(0, 2), min_size=6, max_size=6),
       ab=st.lists(st.floats(0.0, 1.0), min_size=12, max_size=12))
def test_times_energies_non_negative_and_round_time_is_the_max(seed, x, l, ab):
    params = SMALL.default_params.replace(n_edges=2, ue_min=3, ue_max=3)
    state = _small_state(seed, params)
    act = action(x, l, ab[:6], ab[6:])
    _, _, reward, _, _, info = SMALL_TRANSITION(state, act, same_draws(SMALL, state.task), params)
    vr = np.asarray(info["vector_reward"])
    assert np.all(vr <= 0) and np.all(np.isfinite(vr))
    tau = -vr[:, 0] / float(params.w_time)
    rt = float(info["metrics"]["round_time"])
    assert rt == pytest.approx(tau.max(), rel=1e-6)
    cost = float(params.w_time) * rt - vr[:, 1].sum()  # w1 T_t + w2 sum E
    np.testing.assert_allclose(np.asarray(reward), -cost, rtol=1e-5)


@SETTINGS
@given(seed=st.integers(0, 10_000), b_lo=st.floats(0.05, 0.9), a_lo=st.floats(0.05, 0.9))
def test_local_time_falls_and_energy_rises_with_cpu_ratio_upload_faster_with_power(seed, b_lo, a_lo):
    params = SMALL.default_params.replace(n_edges=1, ue_min=2, ue_max=2)
    state = _small_state(seed, params).replace(mask=jnp.array([True, True, False, False, False, False]))
    draws = same_draws(SMALL, state.task)

    def run(a, b):
        act = action([0, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [a] * 6, [b] * 6)
        vr = np.asarray(SMALL_TRANSITION(state, act, draws, params)[5]["vector_reward"])
        return -vr[:, 0], -vr[:, 1]

    t_lo, e_lo = run(a_lo, b_lo)
    t_hi, e_hi = run(min(a_lo + 0.1, 1.0), min(b_lo + 0.1, 1.0))
    assert t_hi[0] < t_lo[0] and e_hi[0] > e_lo[0]  # local UE 0: eqs. 2-3
    assert t_hi[1] < t_lo[1]  # edge UE 1 alone on its channel: higher SNR, faster upload (eq. 4)


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_same_cell_same_channel_interference_only(seed):
    params = SMALL.default_params.replace(n_edges=2, ue_min=3, ue_max=3)
    state = _small_state(seed, params)
    draws = same_draws(SMALL, state.task)

    def upload_time(x, l):
        act = action(x, l, [1.0] * 6, [1.0] * 6)
        vr = np.asarray(SMALL_TRANSITION(state, act, draws, params)[5]["vector_reward"])
        return -vr[0, 0]  # UE 0 (edge): the cell's queue, own upload included

    alone = upload_time([1, 0, 0, 0, 0, 0], [0, 1, 2, 0, 0, 0])
    other_cell = upload_time([1, 0, 0, 1, 1, 1], [0, 1, 2, 0, 0, 0])  # cell 1 on channel 0
    other_channel_local = upload_time([1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0])  # same channel, local
    assert other_cell == pytest.approx(alone, rel=1e-6)
    assert other_channel_local == pytest.approx(alone, rel=1e-6)  # (U2): non-transmitters do not interfere
    # a same-cell transmitter (cloud-bound, so not queued with UE 0) on the same channel slows UE 0
    shared = upload_time([1, 2, 0, 0, 0, 0], [0, 0, 2, 0, 0, 0])
    separate = upload_time([1, 2, 0, 0, 0, 0], [0, 1, 2, 0, 0, 0])
    assert separate == pytest.approx(alone, rel=1e-6)
    assert shared > separate


@SETTINGS
@given(seed=st.integers(0, 10_000), factor=st.floats(1.1, 10.0))
def test_round_time_monotone_in_server_frequencies_and_bandwidth(seed, factor):
    params = SMALL.default_params.replace(n_edges=2, ue_min=3, ue_max=3)
    state = _small_state(seed, params)
    rng = np.random.default_rng(seed)
    act = action(rng.integers(0, 3, 6), rng.integers(0, 3, 6), rng.uniform(0.1, 1, 6), rng.uniform(0.1, 1, 6))
    draws = same_draws(SMALL, state.task)

    def rt(p):
        return float(SMALL_TRANSITION(state, act, draws, p)[5]["metrics"]["round_time"])

    base = rt(params)
    assert rt(params.replace(f_edge=params.f_edge * factor, f_cloud=params.f_cloud * factor)) <= base * (1 + 1e-6)
    assert rt(params.replace(total_bandwidth=params.total_bandwidth * factor)) <= base * (1 + 1e-6)


def test_queue_groups_and_literal_vs_fixed_exec_time():
    env = jaxedge.make("cloud_edge", n_cells=2, ues_per_cell=2, n_channels=4, cache_slots=4)
    params = env.default_params.replace(n_edges=2, ue_min=2, ue_max=2)
    tasks = [3, 4, 5, 6]
    state = controlled_state(env, params, [2, 2], [100.0, 120.0, 80.0, 60.0], tasks)
    draws = same_draws(env, tasks)
    transition = jax.jit(env.transition)
    # UEs 0, 1 on edge 0; UE 2 to the cloud; UE 3 local.
    act = action([1, 1, 2, 0], [0, 1, 0, 1], [1.0] * 4, [1.0] * 4)
    lb = np_tree(jax.jit(env.lower_bounds)(state, params))
    _, _, _, _, _, lit = transition(state, act, draws, params)
    _, _, _, _, _, fix = transition(state, act, draws, params.replace(exec_time_fixed=True))
    tau_lit = -np.asarray(lit["vector_reward"])[:, 0]
    tau_fix = -np.asarray(fix["vector_reward"])[:, 0]
    edge_group = lb["t1_edge"][0] + lb["t21"][0] + lb["t1_edge"][1] + lb["t21"][1]  # Q11 T1(1) + Q2 T21(1)
    np.testing.assert_allclose(tau_lit[:2], [edge_group, edge_group], rtol=1e-5)
    np.testing.assert_allclose(tau_lit[2], lb["t1_cloud"][2] + lb["t22"][2], rtol=1e-5)  # (12): no T21
    np.testing.assert_allclose(tau_fix[2], lb["t1_cloud"][2] + lb["t22"][2] + lb["t21"][2], rtol=1e-5)  # (U4)
    np.testing.assert_allclose(tau_lit[3], lb["t1_local"][3], rtol=1e-5)
    np.testing.assert_allclose(tau_lit[[0, 1, 3]], tau_fix[[0, 1, 3]], rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Episodes, actions, params
# ------------------------------------------------------------------------------------------------
def test_reset_draws_cells_and_ues_within_preset_ranges():
    reset = jax.jit(jax.vmap(ENV.reset, in_axes=(0, None)))
    for preset in ce.PRESETS:
        params = getattr(ce.Params, preset)()
        _, states = reset(jax.random.split(jax.random.PRNGKey(0), 64), params)
        per_cell = np.asarray(states.mask).reshape(64, ENV.n_cells, ENV.ues_per_cell).sum(-1)
        k = int(params.n_edges)
        assert np.all(per_cell[:, k:] == 0)
        assert per_cell[:, :k].min() == int(params.ue_min) and per_cell[:, :k].max() == int(params.ue_max)
        assert np.all(np.asarray(states.task) < len(params.task_si))


def test_padding_ues_have_zero_observations_and_no_effect():
    params = ce.Params.small()
    obs, state = RESET(jax.random.PRNGKey(3), params)
    mask = np.asarray(state.mask)
    assert np.all(np.asarray(obs)[~mask] == 0) and np.all(np.asarray(obs)[mask, 6] == 1)
    key = jax.random.PRNGKey(9)
    a1 = ENV.action_space(params).sample(key)
    a2 = spaces.HybridAction(
        jnp.where(mask[:, None], a1.discrete, 2), jnp.where(mask[:, None], a1.continuous, 0.3)
    )
    draws = ENV.sample_step(key, params, state.ue_type)
    out1, out2 = TRANSITION(state, a1, draws, params), TRANSITION(state, a2, draws, params)
    np.testing.assert_allclose(out1[2], out2[2])
    np.testing.assert_array_equal(np.asarray(out1[1].cache.item), np.asarray(out2[1].cache.item))


def test_nan_and_out_of_range_actions_follow_the_clipping_rule():
    params = ce.Params.small()
    _, state = RESET(jax.random.PRNGKey(4), params)
    n = ENV.num_agents
    draws = ENV.sample_step(jax.random.PRNGKey(5), params, state.ue_type)
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 6, n)
    l = rng.integers(-3, ENV.n_channels + 3, n)  # noqa: E741
    ab = rng.uniform(0, 1, (n, 2))
    ab[::3, 0] = np.nan
    ab[1::4, 1] = np.inf
    ab[2::5, 0] = -np.inf
    ab[3::5, 1] = 7.0
    bad = action(x, l, ab[:, 0], ab[:, 1])
    min_ratio = float(params.min_ratio)
    clean_ab = np.clip(np.nan_to_num(ab, nan=0.0, posinf=1.0, neginf=0.0), min_ratio, 1.0)
    clean = action(np.clip(x, 0, 2), np.clip(l, 0, ENV.n_channels - 1), clean_ab[:, 0], clean_ab[:, 1])
    out_bad, out_clean = TRANSITION(state, bad, draws, params), TRANSITION(state, clean, draws, params)
    for a, b in zip(jax.tree_util.tree_leaves(out_bad), jax.tree_util.tree_leaves(out_clean)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.all(np.isfinite(np.asarray(out_bad[2])))


@pytest.mark.parametrize(
    "field,value",
    [
        ("r_edge", float("nan")),
        ("f_edge", -1.0),
        ("noise_psd", 0.0),
        ("w_energy", -0.5),
        ("cache_policy", 2),
        ("min_ratio", 1.5),
        ("ue_min", 7),  # > ue_max
        ("n_edges", 8),  # > n_cells
        ("ue_max", 9),  # > ues_per_cell
        ("task_so", np.ones(5, np.float32)),  # wrong shape
        ("popularity", np.ones((6, 3), np.float32)),
    ],
)
def test_bad_params_raise_naming_the_field(field, value):
    params = ce.Params.small().replace(**{field: value})
    with pytest.raises(ValueError, match=field):
        ENV.validate_params(params)


def test_zero_sizes_raise():
    for field in ("n_cells", "ues_per_cell", "n_channels", "cache_slots"):
        with pytest.raises(ValueError, match=field):
            jaxedge.make("cloud_edge", **{field: 0})


def test_presets_resolve_the_table_text_conflicts():
    s1, s2, s3, t1 = ce.Params.small(), ce.Params.medium(), ce.Params.large(), ce.Params.table_i()
    assert (s1.n_edges, s1.r_edge, s1.r_cloud) == (5, 200.0, 300.0)
    assert (s2.n_edges, s2.r_edge, s2.r_cloud) == (7, 300.0, 400.0)
    assert (s3.n_edges, s3.r_edge, s3.r_cloud) == (7, 600.0, 800.0)
    assert (s1.ue_min, s1.ue_max) == (4, 6) and (t1.ue_min, t1.ue_max, t1.n_edges) == (3, 5, 6)
    assert 10 * math.log10(s1.p_ue * 1e3) == pytest.approx(23.9, abs=0.01)
    assert s1.f_edge == 14.4e9 and s1.f_cloud == 3 * s1.f_edge and t1.f_cloud == s1.f_edge
    si, so = np.asarray(s1.task_si), np.asarray(s1.task_so)
    assert len(si) == 200 and si.min() >= 5e6 and si.max() <= 20e6 and so.min() >= 2e6 and so.max() <= 40e6
    np.testing.assert_allclose(np.asarray(s1.popularity).sum(1), 1.0, rtol=1e-5)
