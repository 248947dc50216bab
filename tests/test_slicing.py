"""Seed 001 `slicing` env: reference equivalence, the spec's golden vectors, action decoding,
action values, statistics, physics properties and bad input (the heuristics and the exact oracle:
tests/test_heuristics_slicing.py).

The generic contract (jit, vmap, determinism, one trace, finite rollouts, auto-reset, spaces) is in
tests/test_env_contract.py.
"""

import itertools
import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxedge
from jaxedge.envs import slicing as sl
from jaxedge.envs.slicing import Params, Slicing, StepDraws
from jaxedge.physics import slicing as phys
from jaxedge.reference import slicing as ref
from jit_cache import jitted

PRESETS = {"paper": Params.paper, "alternative": Params.alternative}
RTOL = 1e-4
ENV = Slicing(n_aps=2, max_users=20)  # shared by most tests so compiled functions are reused
ENV1 = Slicing(n_aps=1, max_users=20)




def np_tree(x):
    return {k: np.asarray(v) for k, v in x.__dict__.items()}


def make_state(dist, labels, fade=1.0, params=None):
    fade = jnp.full(jnp.shape(dist), fade, jnp.float32)
    return sl.make_state(dist, labels, fade, fade, sl.Params.paper() if params is None else params)


# ------------------------------------------------------------------------------------------------
# Reference equivalence
# ------------------------------------------------------------------------------------------------
@partial(jax.jit, static_argnums=(0, 3, 4))
def jax_rollout(env, params, key, num_envs, steps, actions):
    """Reset ``num_envs`` envs, then scan `transition` with injected draws; returns everything."""
    k_ep, k_first, k_steps = jax.random.split(key, 3)
    eps = jax.vmap(env.sample_episode, in_axes=(0, None))(jax.random.split(k_ep, num_envs), params)
    first = jax.vmap(env.sample_step, in_axes=(0, None))(jax.random.split(k_first, num_envs), params)
    state0 = jax.vmap(env.initial_state, in_axes=(0, 0, None))(eps, first, params)
    step_keys = jax.random.split(k_steps, steps * num_envs).reshape(steps, num_envs, -1)
    draws = jax.vmap(jax.vmap(env.sample_step, in_axes=(0, None)), in_axes=(0, None))(step_keys, params)

    def body(state, xs):
        action, draw = xs
        obs, state, reward, _, truncated, info = jax.vmap(env.transition, in_axes=(0, 0, 0, None))(
            state, action, draw, params)
        return state, (obs, reward, truncated, info["metrics"])

    _, outs = jax.lax.scan(body, state0, (actions, draws))
    return eps, first, draws, outs


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_reference_equivalence(preset):
    env = ENV
    params = PRESETS[preset](n_users=20 if preset == "paper" else 15)
    num_envs, steps = 2, 200
    key = jax.random.PRNGKey(42)
    actions = jax.random.randint(jax.random.PRNGKey(7), (steps, num_envs, env.n_aps), 0, env.num_actions)
    # A few extreme allocations (a slice with one block) so that eq. 2's zero share shows up.
    actions = actions.at[::7, :, 0].set(0)
    eps, first, draws, (obs, reward, truncated, metrics) = jax_rollout(env, params, key, num_envs, steps, actions)
    actions, obs, reward, truncated = map(np.asarray, (actions, obs, reward, truncated))
    metrics = {k: np.asarray(v) for k, v in metrics.items()}
    draws = np_tree(draws)

    # per-env loop reference
    for e in range(num_envs):
        state = ref.initial_state({"radius_u": np.asarray(eps.radius_u[e])},
                                  {k: np.asarray(v[e]) for k, v in np_tree(first).items()}, params)
        for t in range(steps):
            o, state, r, tr, m = ref.step_loop(state, actions[t, e], {k: v[t, e] for k, v in draws.items()},
                                               params, env)
            np.testing.assert_allclose(obs[t, e], o, rtol=RTOL, atol=1e-7)
            np.testing.assert_allclose(reward[t, e], r, rtol=RTOL)
            assert truncated[t, e] == tr
            for name, value in m.items():
                np.testing.assert_allclose(metrics[name][t, e], value, rtol=RTOL, atol=1e-9, err_msg=name)
    # batched reference
    state = ref.initial_state({"radius_u": np.asarray(eps.radius_u)}, np_tree(first), params)
    for t in range(steps):
        o, state, r, tr, m = ref.step_batched(state, actions[t], {k: v[t] for k, v in draws.items()}, params, env)
        np.testing.assert_allclose(obs[t], o, rtol=RTOL, atol=1e-7)
        np.testing.assert_allclose(reward[t], r, rtol=RTOL)
        for name, value in m.items():
            np.testing.assert_allclose(metrics[name][t], value, rtol=RTOL, atol=1e-9, err_msg=name)
    # the rollout must exercise satisfied, unsatisfied and (paper preset) starved users
    assert 0.1 < metrics["satisfaction"].mean() < 0.95
    if preset == "paper":
        assert metrics["starved"].max() > 0


# ------------------------------------------------------------------------------------------------
# Spec §10.6 golden vectors
# ------------------------------------------------------------------------------------------------
def test_golden_vector_eqs_1_to_5():
    """Spec §10.6.2: n = (9, 9, 2), f_B = (6, 8, 4), f_C = (5, 7, 6), d = 20 m, |h|^2 = 1."""
    env = ENV1
    params = env.default_params
    labels = [[0] * 9 + [1] * 9 + [2] * 2]
    state = make_state(np.full((1, 20), 20.0), labels)
    action = env.encode_action(jnp.array([[6, 8, 4]]), jnp.array([[5, 7, 6]]))
    f_b, f_c = env.decode_action(action)
    np.testing.assert_array_equal(f_b, [[6, 8, 4]])
    onehot = jax.nn.one_hot(state.slice, 3, dtype=jnp.int32)
    fb_u, fc_u = (onehot * f_b[:, None]).sum(-1), (onehot * f_c[:, None]).sum(-1)
    l_up, l_cal, l_dn, starved, total, sat, _ = jitted(env, "user_delays")(state, fb_u, fc_u, params)
    first = [0, 9, 18]  # one user of each slice
    np.testing.assert_allclose(np.asarray(l_cal)[0, first] * 1e3, [3.6, 5.142857, 6.666667], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(l_up)[0, first] * 1e3, [0.0799, 0.3155, 0.3414], rtol=2e-3)
    np.testing.assert_allclose(np.asarray(l_dn)[0, first] * 1e3, [0.0151, 0.0595, 0.0635], rtol=4e-3)
    np.testing.assert_allclose(np.asarray(total)[0, first] * 1e3, [3.6950, 5.5178, 7.0715], rtol=1e-4)
    assert np.asarray(sat).all() and not np.asarray(starved).any()
    w = phys.bandwidth_share(jnp.array([6, 8, 4]), 2_000_000, 180_000, jnp.array([9, 9, 2]))
    np.testing.assert_array_equal(w, [1.26e6, 1.62e6, 3.96e6])
    c = phys.compute_share(jnp.array([5.0, 7.0, 6.0]), params.block_cpu, jnp.array([9, 9, 2]))
    np.testing.assert_allclose(c / 1e9, [27.7778, 38.8889, 150.0], rtol=1e-5)


def test_floor_edge_cases():
    """Spec §10.6.3: exact multiples survive the floor; a zero share is capped and unsatisfied;
    an empty slice gives no NaN."""
    w = phys.bandwidth_share(jnp.int32(1), 2_000_000, 100_000, jnp.int32(20))
    assert float(w) == 100_000.0
    assert float(phys.bandwidth_share(jnp.int32(1), 2_000_000, 180_000, jnp.int32(12))) == 0.0
    env = ENV1
    params = env.default_params
    state = make_state(np.full((1, 20), 30.0), [[0] * 12 + [1] * 8])  # slice 2 empty
    action = env.encode_action(jnp.array([[1, 9, 8]]), jnp.array([[6, 6, 6]]))
    obs, _, reward, _, _, info = jitted(env, "transition")(state, action, env.sample_step(jax.random.PRNGKey(0), params), params)
    m = {k: float(v) for k, v in info["metrics"].items()}
    assert m["starved"] == pytest.approx(12 / 20)
    # the 12 starved users sit at l_cap = 10 ms; the 8 others are served (<= 8 ms budget)
    *_, total, sat, in_l = jitted(env, "user_delays")(state, jnp.where(state.slice == 0, 1, 9), jnp.full((1, 20), 6), params)
    np.testing.assert_allclose(np.asarray(total)[0, :12], params.delay_cap)
    assert not np.asarray(sat)[0, :12].any()
    assert np.isfinite(np.asarray(obs)).all() and np.isfinite(float(reward[0]))
    assert all(np.isfinite(v) for v in m.values())


def test_reward_formula_and_units():
    """Eq. R with L in ms (A8): r = 0.5 e^-5 + 0.5 e^0.8 for L = 5 ms, phi = 0.8."""
    r = phys.slicing_reward(jnp.float32(5e-3), jnp.float32(0.8), 0.5, 1e3)
    assert float(r) == pytest.approx(0.5 * math.exp(-5.0) + 0.5 * math.exp(0.8), rel=1e-6)
    r_s = phys.slicing_reward(jnp.float32(5e-3), jnp.float32(0.8), 0.5, 1.0)  # L in seconds
    assert float(r_s) == pytest.approx(0.5 * math.exp(-5e-3) + 0.5 * math.exp(0.8), rel=1e-6)


def test_observation_units_and_decoding():
    """Spec §4.1: raw m_i = n_i (1 + beta) x_i kbit, N_i = n_i s_i kMc; normalised = n_i / U."""
    env = Slicing(n_aps=1, max_users=10)
    labels = [[0, 0, 0, 1, 1, 2, 0, 1, 2, 2]]
    state = make_state(np.full((1, 10), 10.0), labels)
    counts = np.array([3.0, 2.0, 1.0])  # n_users = 6: the last 4 users are padding
    raw = Params.paper(n_users=6, obs_normalise=False)
    np.testing.assert_allclose(env.observations(state, raw)[0],
                               np.concatenate([counts * 1.25 * np.array([2.4, 12, 30]), counts * np.array([0.1, 0.2, 1])]),
                               rtol=1e-6)
    norm = Params.paper(n_users=6)
    np.testing.assert_allclose(env.observations(state, norm)[0], np.concatenate([counts, counts]) / 6, rtol=1e-6)
    for params in (raw, norm):
        np.testing.assert_allclose(env.physical_observation(env.observations(state, params), params)["slice_users"][0], counts,
                                   rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# Actions
# ------------------------------------------------------------------------------------------------
def test_action_decoding_is_a_bijection_onto_valid_allocations():
    env = Slicing()
    assert env.num_actions == 136 * 136 == 18_496
    f_b, f_c = env.decode_action(jnp.arange(env.num_actions))
    pairs = np.concatenate([np.asarray(f_b), np.asarray(f_c)], axis=1)
    assert len({tuple(r) for r in pairs}) == env.num_actions  # injective
    valid = [c for c in itertools.product(range(1, 19), repeat=3) if sum(c) == 18]
    expected = {b + c for b in valid for c in valid}
    assert {tuple(r) for r in pairs} == expected  # onto exactly the valid allocations
    np.testing.assert_array_equal(env.encode_action(f_b, f_c), np.arange(env.num_actions))
    assert int(env.encode_action(jnp.array([6, 6, 5]), jnp.array([6, 6, 6]))) == -1  # does not sum to 18
    # lexicographic order, joint index a = i_B * 136 + i_C
    np.testing.assert_array_equal(np.asarray(f_b)[[0, 136]], [[1, 1, 16], [1, 2, 15]])
    np.testing.assert_array_equal(np.asarray(f_c)[[0, 1]], [[1, 1, 16], [1, 2, 15]])


def test_coarse_and_leq_modes():
    coarse = Slicing(action_mode="coarse")
    assert coarse.num_actions == 100
    f_b, f_c = coarse.decode_action(jnp.arange(100))
    assert (np.asarray(f_b) % 3 == 0).all() and (np.asarray(f_b).sum(1) == 18).all()
    assert (np.asarray(f_c) >= 3).all()
    np.testing.assert_array_equal(coarse.encode_action(f_b, f_c), np.arange(100))
    leq = Slicing(action_mode="leq")
    assert len(leq.bandwidth_table) == math.comb(18, 3) == 816 and leq.num_actions == 816**2
    assert (leq.bandwidth_table.sum(1) <= 18).all() and (leq.bandwidth_table >= 1).all()
    with pytest.raises(ValueError, match="n_bw_blocks"):
        Slicing(action_mode="coarse", n_bw_blocks=17)
    with pytest.raises(ValueError, match="action_mode"):
        Slicing(action_mode="fine")


def test_out_of_range_and_nan_actions_follow_the_rule():
    env = ENV
    last = env.num_actions - 1
    ints = env.decode_action(jnp.array([-5, 0, last + 100, last]))
    np.testing.assert_array_equal(ints[0][0], ints[0][1])
    np.testing.assert_array_equal(ints[0][2], ints[0][3])
    floats = env.decode_action(jnp.array([jnp.nan, 3.7, jnp.inf, -jnp.inf]))
    expect = env.decode_action(jnp.array([0, 3, last, 0]))
    np.testing.assert_array_equal(floats[0], expect[0])
    np.testing.assert_array_equal(floats[1], expect[1])
    params = env.default_params
    _, state = jitted(env, "reset")(jax.random.PRNGKey(0), params)
    draws = env.sample_step(jax.random.PRNGKey(1), params)
    transition = jitted(env, "transition")
    bad = transition(state, jnp.array([jnp.nan, 1e12]), draws, params)
    good = transition(state, jnp.array([0, last]), draws, params)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(bad))
    for x, y in zip(jax.tree_util.tree_leaves(bad), jax.tree_util.tree_leaves(good)):
        np.testing.assert_array_equal(x, y)  # NaN -> action 0, 1e12 -> the last action


def test_action_values_match_transition():
    env = ENV
    params = env.default_params.replace(n_users=7)
    _, state = jitted(env, "reset")(jax.random.PRNGKey(11), params)
    delay, sat = jax.jit(env.action_values)(state, params)
    draws = env.sample_step(jax.random.PRNGKey(0), params)
    transition = jax.jit(env.transition)
    for a in (0, 57, 10275, env.num_actions - 1):
        _, _, _, _, _, info = transition(state, jnp.array([a, a]), draws, params)
        assert float(delay[:, a].sum()) / (2 * 7) == pytest.approx(float(info["metrics"]["delay"]), rel=1e-5)
        assert float(sat[:, a].sum()) / (2 * 7) == pytest.approx(float(info["metrics"]["satisfaction"]), rel=1e-6)


# ------------------------------------------------------------------------------------------------
# Statistics (spec §10.6.5)
# ------------------------------------------------------------------------------------------------
def test_slice_fading_and_distance_statistics():
    env = Slicing(n_aps=50, max_users=200)
    params = env.default_params
    draws = env.sample_step(jax.random.PRNGKey(0), params)  # 10^4 users
    freq = np.bincount(np.asarray(draws.slice).ravel(), minlength=3) / 1e4
    np.testing.assert_allclose(freq, [0.46, 0.46, 0.08], atol=0.015)
    assert np.asarray(draws.fade_up).mean() == pytest.approx(1.0, abs=0.03)
    assert np.asarray(draws.fade_down).var() == pytest.approx(1.0, abs=0.1)  # Exp(1): variance 1
    assert not np.allclose(draws.fade_up, draws.fade_down)
    rec = env.sample_step(jax.random.PRNGKey(0), params.replace(reciprocal=True))
    np.testing.assert_array_equal(rec.fade_up, rec.fade_down)
    state = env.initial_state(env.sample_episode(jax.random.PRNGKey(1), params), draws, params)
    d = np.asarray(state.dist)
    assert d.min() >= 1.0 and d.max() <= 40.0
    expected = 2 / 3 * (40.0**3 - 1.0) / (40.0**2 - 1.0)  # area-uniform annulus mean
    assert d.mean() == pytest.approx(expected, rel=0.01)


def test_slices_fixed_per_episode_option():
    env = ENV
    params = env.default_params.replace(n_users=10, resample_slices=False)
    _, state = jitted(env, "reset")(jax.random.PRNGKey(0), params)
    draws = env.sample_step(jax.random.PRNGKey(1), params)
    _, nxt, *_ = jitted(env, "transition")(state, jnp.zeros(2, jnp.int32), draws, params)
    np.testing.assert_array_equal(state.slice, nxt.slice)
    assert not np.allclose(state.fade_up, nxt.fade_up)


def test_user_count_is_traced():
    """n_users is a Params field: one compiled transition serves a sweep over user counts."""
    env = ENV
    counts = (5, 12, 20)
    plist = [env.default_params.replace(n_users=u) for u in counts]
    sweep = jax.tree_util.tree_map(lambda *x: jnp.stack([jnp.asarray(v) for v in x]), *plist)
    key = jax.random.PRNGKey(0)
    _, state = jitted(env, "reset")(key, env.default_params)
    draws = env.sample_step(key, env.default_params)
    action = jnp.array([10275, 0])
    obs, _, reward, _, _, info = jax.jit(jax.vmap(env.transition, in_axes=(None, None, None, 0)))(
        state, action, draws, sweep)
    np_state, np_draws = np_tree(state), np_tree(draws)
    for i, params in enumerate(plist):
        o, _, r, _, m = ref.step_loop(np_state, np.asarray(action), np_draws, params, env)
        np.testing.assert_allclose(obs[i], o, rtol=1e-5)
        np.testing.assert_allclose(reward[i], r, rtol=1e-5)
        np.testing.assert_allclose(info["metrics"]["satisfaction"][i], m["satisfaction"], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(obs).sum(-1), 2.0, rtol=1e-5)  # fractions of the n_users users
    assert len(set(np.asarray(reward)[:, 0].round(6))) == 3


# ------------------------------------------------------------------------------------------------
# Physics properties
# ------------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(f=st.integers(1, 36), n=st.integers(0, 40), unit=st.sampled_from([100_000, 180_000, 250_000]),
       block=st.sampled_from([1_000_000, 2_000_000]))
def test_bandwidth_share_properties(f, n, unit, block):
    w = float(phys.bandwidth_share(jnp.int32(f), block, unit, jnp.int32(n)))
    assert w >= 0 and w % unit == 0
    assert w * max(n, 1) <= f * block  # the slice's users never exceed its bandwidth
    assert w > f * block / max(n, 1) - unit  # the floor loses less than one unit
    assert float(phys.bandwidth_share(jnp.int32(f + 1), block, unit, jnp.int32(n))) >= w
    assert float(phys.bandwidth_share(jnp.int32(f), block, unit, jnp.int32(n + 1))) <= w


def test_float_floor_division_is_exact_over_the_int32_range():
    """`floor_divide_nonnegative` (eq. 2's floor without integer division) equals numpy's // on
    random and extreme int32 operands."""
    rng = np.random.default_rng(0)
    num = rng.integers(0, 2**31, 200_000, dtype=np.int64)
    den = np.maximum(rng.integers(1, 2**31, 200_000, dtype=np.int64) >> rng.integers(0, 31, 200_000), 1)
    extremes = np.array([[2**31 - 1, 1], [2**31 - 1, 2], [2**31 - 2, 3], [0, 7], [36_000_000, 180_000],
                         [3_600_000, 180_000], [2**31 - 1, 2**31 - 1], [2**24 + 1, 1]], np.int64)
    num, den = np.concatenate([num, extremes[:, 0]]).astype(np.int32), np.concatenate([den, extremes[:, 1]]).astype(np.int32)
    got = np.asarray(jax.jit(phys.floor_divide_nonnegative)(num, den))
    np.testing.assert_array_equal(got, num // den)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n_users=st.integers(1, 20))
def test_delays_nonnegative_and_monotone_in_resources(seed, n_users):
    """More bandwidth or compute blocks never increase any user's delay; delays are >= 0.

    (The raw ``total`` of a starved user is l_cap by rule A9, which can be below the delay of a user
    served with one 180 kHz unit, so monotonicity is asserted on the true and on the clipped delay.)
    """
    env = ENV1
    params = env.default_params.replace(n_users=n_users)
    _, state = jitted(env, "reset")(jax.random.PRNGKey(seed), params)
    grid_b = jnp.arange(1, 19)[None, None, :, None]
    grid_c = jnp.arange(1, 19)[None, None, None, :]
    l_up, l_cal, l_dn, starved, total, sat, in_l = (np.asarray(x) for x in jitted(env, "user_delays")(state, grid_b, grid_c, params))
    assert (l_up >= 0).all() and (l_cal > 0).all() and (l_dn >= 0).all() and np.isfinite(total).all()
    true_delay = np.where(starved, np.inf, total)  # a starved user's real delay is unbounded
    for x in (true_delay, in_l):  # in_l: the (clipped) delay in L, l_cap when starved (A9)
        # compare neighbours directly (not np.diff: inf - inf is nan for users starved in both)
        assert (x[:, :, 1:, :] <= x[:, :, :-1, :] + 1e-9).all()
        assert (x[:, :, :, 1:] <= x[:, :, :, :-1] + 1e-9).all()
    assert (np.diff(sat.astype(int), axis=2) >= 0).all() and (np.diff(sat.astype(int), axis=3) >= 0).all()
    assert (in_l <= params.delay_cap + 1e-9).all()


@settings(max_examples=20, deadline=None)
@given(a=st.integers(0, 18_495), seed=st.integers(0, 1000))
def test_capacity_never_exceeded(a, seed):
    """Every action allocates all 18 blocks of each resource, and the users' bandwidths fit W_b."""
    env = ENV1
    params = env.default_params
    f_b, f_c = (np.asarray(x)[0] for x in env.decode_action(jnp.array([a])))
    assert f_b.sum() == 18 and f_c.sum() == 18 and f_b.min() >= 1 and f_c.min() >= 1
    _, state = jitted(env, "reset")(jax.random.PRNGKey(seed), params)
    labels = np.asarray(state.slice)[0]
    counts = np.bincount(labels, minlength=3)
    w = np.asarray(phys.bandwidth_share(jnp.asarray(f_b[labels]), 2_000_000, 180_000, jnp.asarray(counts[labels])))
    c = np.asarray(phys.compute_share(jnp.asarray(f_c[labels], jnp.float32), params.block_cpu, jnp.asarray(counts[labels])))
    assert w.sum() <= 36e6 and c.sum() <= 900e9 * (1 + 1e-6)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [
    ("n_users", 21), ("n_users", 0), ("alpha", 1.5), ("bw_unit", float("nan")), ("block_bw", -2e6),
    ("slice_probs", jnp.array([0.5, 0.5])), ("max_delay", jnp.array([5e-3, 8e-3, -1.0])), ("d_min", 50.0),
    ("slice_probs", jnp.zeros(3)),
])
def test_bad_params_raise_naming_the_field(field, value):
    env = jaxedge.make("slicing")
    with pytest.raises(ValueError, match=field):
        env.reset(jax.random.PRNGKey(0), env.default_params.replace(**{field: value}))


def test_bad_sizes_raise():
    for field in ("n_aps", "max_users", "n_slices", "n_bw_blocks"):
        with pytest.raises(ValueError, match=field):
            Slicing(**{field: 0})
    assert Slicing(max_users=8).default_params.n_users == 8


def test_step_draws_type():
    env = Slicing(n_aps=1, max_users=3)
    draws = env.sample_step(jax.random.PRNGKey(0), env.default_params)
    assert isinstance(draws, StepDraws) and draws.slice.dtype == jnp.int32
