"""Seed 002 `v2x`: reference equivalence, spec golden values, physics properties, twin coupling."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxedge
from jaxedge import spaces
from jaxedge.envs import v2x
from jaxedge.envs.v2x import Params
from jaxedge.physics import compute, mobility, twin
from jaxedge.reference import v2x as ref
from jaxedge.wrappers import VecEnv

SETTINGS = dict(max_examples=25, deadline=None)
_sequential_allocation = jax.jit(twin.sequential_allocation)
_mobility_step = jax.jit(mobility.random_direction_step)
GOLDEN_ES = np.array([[250.0, 250.0], [750.0, 250.0], [500.0, 750.0]], np.float32)  # spec §10.6

PRESETS = {
    "trend": Params.trend(),
    "literal": Params.literal(),
    # every switch flipped, on the literal physics
    "switches": Params.literal(reward_global=False, local_dvfs=True, bw_from_target=True),
}


def to_numpy(tree):
    return {k: np.asarray(v, np.float64) if np.asarray(v).dtype != bool else np.asarray(v)
            for k, v in vars(tree).items()}


def one_vehicle_state(env, params, pos, bits, cpu, gain=1.0):
    n = env.n_servers
    return v2x.State(
        pos=jnp.asarray([pos], jnp.float32), heading=jnp.asarray([[1.0, 0.0]]), speed=jnp.zeros(1),
        bits=jnp.asarray([bits], jnp.float32), gain=jnp.full((1, n), gain, jnp.float32),
        cpu=jnp.full((n,), cpu, jnp.float32), bw=jnp.full((n,), params.es_bw, jnp.float32),
        t=jnp.zeros((), jnp.int32),
    )


def no_draws(env, state):
    return v2x.StepDraws(turn=jnp.zeros(env.n_vehicles, bool), heading=state.heading, bits=state.bits,
                         gain=state.gain, cpu=state.cpu)


def action(target, frac):
    return spaces.HybridAction(jnp.asarray(target, jnp.int32), jnp.asarray(frac, jnp.float32))


# ------------------------------------------------------------------------------------------------
# Reference equivalence
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(PRESETS))
def test_transition_matches_numpy_references(preset):
    params = PRESETS[preset]
    env = jaxedge.make("v2x", n_vehicles=4, n_servers=3)
    _, state = env.reset(jax.random.PRNGKey(0), params)
    loop_state = to_numpy(state)
    loop_state["t"] = int(loop_state["t"])
    batch_state = {k: np.asarray(v)[None] for k, v in to_numpy(state).items()}
    transition = jax.jit(env.transition)
    space = env.action_space(params)

    @jax.jit
    def sample(t):  # one compiled call per step instead of a dozen eager ops
        key = jax.random.PRNGKey(1000 + t)
        act = space.sample(key)
        bad = action(act.discrete.at[0].set(9).at[1].set(-2),  # out-of-range targets, non-finite
                     act.continuous.at[2, 1].set(jnp.nan).at[3, 0].set(2.0))  # fractions (documented rule)
        act = jax.tree_util.tree_map(lambda b, a: jnp.where(t % 7 == 3, b, a), bad, act)
        return act, env.sample_step(jax.random.fold_in(key, 1), params)

    got, want_loop, want_batched = [], [], []
    for t in range(200):
        act, draws = sample(t)
        obs, state, reward, _, truncated, info = transition(state, act, draws, params)
        d = to_numpy(draws)
        target, frac = np.asarray(act.discrete), np.asarray(act.continuous)
        r_obs, loop_state, r_rew, r_trunc, r_met, r_tw = ref.step_loop(loop_state, target, frac, d, params)
        b_obs, batch_state, b_rew, b_trunc, b_met, b_tw = ref.step_batched(
            batch_state, target[None], frac[None], {k: v[None] for k, v in d.items()}, params)
        got.append(dict(obs=obs, reward=reward, twin=info["twin_observation"], pos=state.pos,
                        **info["metrics"]))
        want_loop.append(dict(obs=r_obs, reward=r_rew, twin=r_tw, pos=loop_state["pos"], **r_met))
        want_batched.append(dict(obs=b_obs[0], reward=b_rew[0], twin=b_tw[0], pos=batch_state["pos"][0],
                                 **{k: v[0] for k, v in b_met.items()}))
        assert bool(truncated) == r_trunc == bool(b_trunc[0])
    assert sorted(r_met) == sorted(info["metrics"])
    stack = lambda rows: {k: np.stack([np.asarray(r[k], np.float64) for r in rows]) for k in rows[0]}  # noqa: E731
    got, want_loop, want_batched = stack(got), stack(want_loop), stack(want_batched)
    for name in got:
        close = dict(rtol=1e-4, atol=1e-2) if name == "pos" else dict(rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got[name], want_loop[name], **close, err_msg=f"{preset} {name} (loop)")
        np.testing.assert_allclose(got[name], want_batched[name], **close, err_msg=f"{preset} {name} (batched)")
    assert got["clip_ratio"].max() > 0 and got["remote_ratio"].max() > 0  # the starved and remote paths ran


# ------------------------------------------------------------------------------------------------
# Golden values (spec §10.6): CV at (100, 100), ESs at (250, 250), (750, 250), (500, 750)
# ------------------------------------------------------------------------------------------------
ENV_1 = jaxedge.make("v2x", n_vehicles=1, n_servers=3)
_transition_1 = jax.jit(ENV_1.transition)


def golden_slot(params, target, frac, bits=100e3, cpu=10e9):
    params = params.replace(es_pos=GOLDEN_ES, reward_global=False)
    state = one_vehicle_state(ENV_1, params, (100.0, 100.0), bits, cpu)
    _, _, reward, _, _, info = _transition_1(state, action([target], [frac]), no_draws(ENV_1, state), params)
    return float(info["metrics"]["delay"]), float(info["metrics"]["energy"]), float(-reward[0]), info


def test_golden_values_literal():
    assert math.isclose(float(Params.literal().noise), 5.0119e-15, rel_tol=1e-4)
    lit = Params.literal(phi_es=1e-30)
    # nearby ES1: b = 10 MHz, f = 5 GHz, p = 0.2 W -> T_com 0.45464 ms, E_com 0.090929 mJ, T_cmp 10 ms, E_cmp 1.25 mJ
    T, E, c, info = golden_slot(lit, 1, (1.0, 0.5, 0.5))
    np.testing.assert_allclose(T, 0.45464e-3 + 10e-3, rtol=1e-4)
    np.testing.assert_allclose(E, 0.090929e-3 + 1.25e-3, rtol=1e-4)
    np.testing.assert_allclose(c, 0.5 * T + 0.5 * E, rtol=1e-6)
    assert float(info["metrics"]["remote_ratio"]) == 0.0
    _, E_28, _, _ = golden_slot(Params.literal(), 1, (1.0, 0.5, 0.5))  # phi_es = 1e-28: E_cmp 0.125 J
    np.testing.assert_allclose(E_28, 0.090929e-3 + 0.125, rtol=1e-4)
    # remote ES2 (667 m > R): uplink to ES1, 500 m wire at 20 Mbit/s (5 ms) -> T = 15.4546 ms
    T, _, _, info = golden_slot(lit, 2, (1.0, 0.5, 0.5))
    np.testing.assert_allclose(T, 15.4546e-3, rtol=1e-4)
    assert float(info["metrics"]["remote_ratio"]) == 1.0
    # local: 25 ms, 0.02 J (phi_cv 1e-28) / 0.2 J (1e-27)
    T, E, _, _ = golden_slot(lit, 0, (1.0, 1.0, 1.0))
    np.testing.assert_allclose([T, E], [25e-3, 0.02], rtol=1e-5)
    _, E, _, _ = golden_slot(lit.replace(phi_cv=1e-27), 0, (1.0, 1.0, 1.0))
    np.testing.assert_allclose(E, 0.2, rtol=1e-5)


def test_golden_values_trend_uplink():
    # alpha 2, -113 dBm/Hz x 10 MHz: SNR 19.478 dB, 64.867 Mbit/s, T_com 1.5416 ms, E_com 0.30832 mJ
    trend = Params.trend()
    T, E, _, _ = golden_slot(trend, 1, (1.0, 0.5, 0.5))
    np.testing.assert_allclose(T - 10e-3, 1.5416e-3, rtol=2e-4)
    np.testing.assert_allclose(E - 1.25e-3, 0.30832e-3, rtol=2e-4)


def test_discrete_map_s4_golden():
    env = jaxedge.make("v2x", n_vehicles=8, n_servers=3)
    u = jnp.array([-1.0, -0.999, -0.5, -1e-4, 0.0, 0.4999, 0.5, 0.999])
    raw = jnp.stack([u, -jnp.ones(8), jnp.zeros(8), jnp.ones(8)], -1)
    act = env.from_tanh(raw)
    np.testing.assert_array_equal(act.discrete, [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_allclose(act.continuous[0], [0.0, 0.5, 1.0])
    assert int(env.from_tanh(jnp.array([1.0, 0, 0, 0])).discrete) == 3  # the min(., N) guard
    assert int(env.from_tanh(jnp.array([jnp.nan, 0, 0, 0])).discrete) == 2  # NaN -> u = 0


@pytest.mark.parametrize("phi, expected_ghz", [(1e-27, 0.794), (1e-28, 1.710), (1e-29, 3.684), (1e-30, 7.937)])
def test_best_frequency_golden(phi, expected_ghz):
    np.testing.assert_allclose(float(v2x.best_es_frequency(Params(phi_es=phi))) / 1e9, expected_ghz, rtol=1e-3)


@pytest.mark.parametrize("phi_es, w", [(1e-28, 0.5), (1e-29, 0.3), (1e-30, 0.5), (1e-30, 0.8)])
def test_closed_form_frequency_is_argmin_of_brute_force_grid(phi_es, w):
    """Spec §2.9-3: f* minimises the env's own cost of a task on an ES over a grid of CPU shares."""
    env = jaxedge.make("v2x", n_vehicles=1, n_servers=3)
    cpu = 25e9
    params = Params.trend(phi_es=phi_es, w=w, es_pos=GOLDEN_ES, reward_global=False, cost_cap=1e30)
    state = one_vehicle_state(env, params, (100.0, 100.0), 100e3, cpu)
    fracs = jnp.linspace(1e-3, 1.0, 4000)

    def cost(a):
        _, _, reward, *_ = env.transition(state, action([1], [(1.0, a, 0.5)]), no_draws(env, state), params)
        return -reward[0]

    costs = jax.jit(jax.vmap(cost))(fracs)
    f_grid = float(fracs[jnp.argmin(costs)]) * cpu
    f_star = float(v2x.best_es_frequency(params))
    assert f_star < cpu
    assert abs(f_grid - f_star) <= 1.5 * (fracs[1] - fracs[0]) * cpu, (f_grid, f_star)


# ------------------------------------------------------------------------------------------------
# Structural properties and the twin
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["trend", "literal"])
def test_cost_exactly_linear_in_task_size(preset):
    """Spec §2.9-2: for fixed actions and geometry every T_i and E_i scales with D_i."""
    env = jaxedge.make("v2x", n_vehicles=6, n_servers=3)
    params = PRESETS[preset].replace(reward_global=False, cost_cap=1e30)
    step = jax.jit(env.transition)
    reset = jax.jit(env.reset)
    for seed in range(4):
        key = jax.random.PRNGKey(seed)
        _, state = reset(key, params)
        act = env.action_space(params).sample(jax.random.fold_in(key, 1))
        draws = no_draws(env, state)
        _, _, r1, _, _, i1 = step(state, act, draws, params)
        for k in (0.25, 3.0):
            _, _, rk, _, _, ik = step(state.replace(bits=state.bits * k), act, draws, params)
            np.testing.assert_allclose(rk, k * r1, rtol=1e-5)
            for m in ("delay", "energy", "cost"):
                np.testing.assert_allclose(ik["metrics"][m], k * i1["metrics"][m], rtol=1e-5)
        assert float(i1["metrics"]["offload_ratio"]) > 0


def test_coupling_constraints_never_exceeded_over_long_rollouts():
    env = jaxedge.make("v2x", n_vehicles=10, n_servers=3)
    params = env.default_params
    vec = VecEnv(env)
    space = env.action_space(params)
    num_envs, steps = 16, 210  # crosses two auto-resets

    @jax.jit
    def run(key, grab):
        _, state = vec.reset(jax.random.split(key, num_envs), params)

        def body(state, k):
            ka, ks = jax.random.split(k)
            act = jax.vmap(space.sample)(jax.random.split(ka, num_envs))
            # grab: everyone asks for everything that remains
            act = act.replace(continuous=jnp.where(grab, jnp.ones_like(act.continuous), act.continuous))
            dist = jax.vmap(v2x.distances, in_axes=(0, None, None))(state.pos, params.es_pos, params.d_min)
            target, frac = jax.vmap(env.decode_action)(act)
            on_cpu, _, on_bw, _ = jax.vmap(v2x.routing, in_axes=(0, 0, None, None))(target, dist, params, 3)
            f, b, *_ = jax.vmap(twin.sequential_allocation)(state.cpu, state.bw, on_cpu, on_bw,
                                                            frac[..., 1], frac[..., 2])
            cpu_sum = jnp.einsum("em,emn->en", f, on_cpu)
            bw_sum = jnp.einsum("em,emn->en", b, on_bw)
            _, new_state, _, _, _, info = vec.step(jax.random.split(ks, num_envs), state, act, params)
            out = (cpu_sum / state.cpu, bw_sum / state.bw, f.min(), b.min(),
                   info["metrics"]["cpu_excess"], info["metrics"]["bw_excess"])
            return new_state, out

        _, out = jax.lax.scan(body, state, jax.random.split(key, steps))
        return out

    for grab in (False, True):
        cpu_share, bw_share, f_min, b_min, cpu_excess, bw_excess = map(np.asarray, run(jax.random.PRNGKey(3), grab))
        assert cpu_share.max() <= 1.0 + 1e-5 and bw_share.max() <= 1.0 + 1e-5
        assert f_min.min() >= 0.0 and b_min.min() >= 0.0
        assert cpu_excess.max() <= 1e-5 and bw_excess.max() <= 1e-5
        assert cpu_share.max() >= (1.0 - 1e-6 if grab else 0.5)  # grab: the first user takes it all


@settings(**SETTINGS)
@given(
    st.lists(st.integers(0, 3), min_size=8, max_size=8),
    st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8),
    st.floats(1e9, 3e10),
)
def test_twin_recursion_matches_closed_form_product(targets, fracs, cap):
    """f_i = a_i f_hat_j prod_{k < i, x_k = j} (1 - a_k); the twin never goes negative (eqs. 25-26)."""
    m, n = len(targets), 3
    target = jnp.asarray(targets)
    a = jnp.asarray(fracs, jnp.float32)
    on = jax.nn.one_hot(target - 1, n)
    cpu0 = jnp.full((n,), cap, jnp.float32)
    f, _, seen, _, left, _ = _sequential_allocation(cpu0, cpu0, on, on, a, a)
    f, seen, on = np.asarray(f, np.float64), np.asarray(seen), np.asarray(on, np.float64)
    for i in range(m):
        j = targets[i] - 1
        expected = 0.0 if j < 0 else fracs[i] * cap * np.prod([1 - fracs[k] for k in range(i) if targets[k] == targets[i]])
        np.testing.assert_allclose(f[i], expected, rtol=1e-5, atol=1e-6 * cap)
        np.testing.assert_allclose(seen[i], cap - f[:i] @ on[:i], rtol=1e-5, atol=1e-6 * cap)
    assert np.all(np.asarray(left) >= 0.0)
    assert (f @ on).max() <= cap * (1 + 1e-6)


def test_act_sequential_observes_the_live_twin():
    env = jaxedge.make("v2x", n_vehicles=5, n_servers=3)
    params = env.default_params
    _, state = env.reset(jax.random.PRNGKey(4), params)
    dist = v2x.distances(state.pos, params.es_pos, params.d_min)

    def half_of_nearest(i, obs_i):
        return jnp.argmin(dist[i]) + 1, jnp.array([1.0, 0.5, 0.5])

    @jax.jit
    def run(state):
        act, obs_seq = env.act_sequential(state, params, half_of_nearest)
        return obs_seq, env.step(jax.random.PRNGKey(0), state, act, params)[-1]["twin_observation"]

    obs_seq, twin_obs = run(state)
    np.testing.assert_allclose(obs_seq, twin_obs, rtol=1e-6)
    slot_start = env.observations(state, params)
    np.testing.assert_allclose(obs_seq[0], slot_start[0], rtol=1e-6)
    # agent i sees the slot-start CPU of its ES halved once per earlier agent at that ES
    nearest = np.asarray(jnp.argmin(dist, -1))
    seen_cpu = np.asarray(env.physical_observation(obs_seq, params)["cpu"])
    for i in range(5):
        j = nearest[i]
        earlier = int(np.sum(nearest[:i] == j))
        np.testing.assert_allclose(seen_cpu[i, j], float(state.cpu[j]) * 0.5**earlier, rtol=1e-5)


def test_remote_flag_and_access_es():
    """Remote iff d(target) > R; the access ES is within R whenever any ES is (spec §10.6)."""
    params = Params.trend()
    key = jax.random.PRNGKey(9)
    pos = jax.random.uniform(key, (4000, 2)) * params.area
    dist = v2x.distances(pos, params.es_pos, params.d_min)
    target = jax.random.randint(jax.random.fold_in(key, 1), (4000,), 0, 4)
    on_cpu, on_access, on_bw, remote = v2x.routing(target, dist, params, 3)
    d_target = np.asarray(jnp.sum(on_cpu * dist, -1))
    d_access = np.asarray(jnp.sum(on_access * dist, -1))
    off = np.asarray(target) > 0
    np.testing.assert_array_equal(np.asarray(remote), off & (d_target > 500.0))
    any_in_range = np.asarray(dist.min(-1)) <= 500.0
    assert np.all(d_access[off & any_in_range] <= 500.0)
    np.testing.assert_array_equal(np.asarray(on_bw), np.asarray(on_access))  # A6 default: access ES
    assert 0.0 < remote.mean() < 0.5 and np.asarray(on_access[~off]).sum() == 0


# ------------------------------------------------------------------------------------------------
# Physics property tests
# ------------------------------------------------------------------------------------------------
def _de(params, f=5e9, b=5e6, p=0.2, gain=1.0, dist=300.0, bits=100e3):
    return v2x.delay_energy(jnp.float32(bits), True, jnp.float32(f), jnp.float32(b), jnp.float32(p),
                            jnp.float32(gain), jnp.float32(dist), 0.0, 2e9, params)


@settings(**SETTINGS)
@given(st.floats(1e8, 2.5e10), st.floats(1e5, 2e7), st.floats(1e-3, 0.2), st.floats(1e-3, 10.0),
       st.floats(1.0, 1500.0), st.floats(1e3, 2e5), st.sampled_from(["trend", "literal"]))
def test_delay_energy_nonnegative_and_monotone(f, b, p, gain, dist, bits, preset):
    params = PRESETS[preset]
    T, E = _de(params, f, b, p, gain, dist, bits)
    assert float(T) > 0 and float(E) > 0
    T_f, E_f = _de(params, 1.5 * f, b, p, gain, dist, bits)
    assert float(T_f) < float(T) and float(E_f) > float(E)  # more CPU: faster, costlier (eqs. 4, 13)
    T_b, _ = _de(params, f, 1.5 * b, p, gain, dist, bits)
    assert float(T_b) <= float(T) * (1 + 1e-6)  # more bandwidth never slows the uplink (eq. 5)
    T_p, _ = _de(params, f, b, min(1.5 * p, 0.2), gain, dist, bits)
    assert float(T_p) <= float(T) * (1 + 1e-6)
    T_d, _ = _de(params, f, b, p, gain, dist * 1.5, bits)
    assert float(T_d) >= float(T) * (1 - 1e-6)  # farther: slower


def test_heading_from_angle_is_cos_sin():
    """One cos over (theta, theta - pi/2) gives (cos theta, sin theta) up to the rounding of theta - pi/2."""
    theta = np.linspace(0.0, 2.0 * np.pi, 10_001, dtype=np.float32)
    heading = np.asarray(mobility.heading_from_angle(jnp.asarray(theta)))
    exact = np.stack([np.cos(theta.astype(np.float64)), np.sin(theta.astype(np.float64))], -1)
    np.testing.assert_allclose(heading, exact, atol=1e-6)
    assert heading.shape == (10_001, 2) and heading.dtype == np.float32


@settings(**SETTINGS)
@given(st.floats(0.0, 500.0), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1))
def test_mobility_stays_in_square(speed, p_turn, seed):
    key = jax.random.PRNGKey(seed)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    pos = jax.random.uniform(k1, (64, 2)) * 1000.0
    heading = mobility.heading_from_angle(jax.random.uniform(k2, (64,)) * 2 * jnp.pi)
    for t in range(5):
        turn = jax.random.uniform(jax.random.fold_in(k3, t), (64,)) < p_turn
        new = mobility.heading_from_angle(jax.random.uniform(jax.random.fold_in(k4, t), (64,)) * 2 * jnp.pi)
        moved, heading = _mobility_step(pos, heading, jnp.full(64, speed), 1.0, turn, new, 1000.0)
        assert float(moved.min()) >= 0.0 and float(moved.max()) <= 1000.0
        np.testing.assert_allclose(jnp.linalg.norm(heading, axis=-1), 1.0, rtol=1e-5)
        if speed == 0.0:
            np.testing.assert_array_equal(moved, pos)
        pos = moved


def test_mobility_keeps_positions_uniform():
    """The random-direction model with reflection keeps the uniform distribution stationary (§2.2)."""
    n, area = 4000, 1000.0
    key = jax.random.PRNGKey(0)
    pos = jax.random.uniform(key, (n, 2)) * area
    heading = mobility.heading_from_angle(jax.random.uniform(jax.random.fold_in(key, 1), (n,)) * 2 * jnp.pi)

    def body(carry, k):
        pos, heading = carry
        u = jax.random.uniform(k, (n,))
        new = mobility.heading_from_angle(u / 0.1 * 2 * jnp.pi)
        return mobility.random_direction_step(pos, heading, jnp.full(n, 30.0), 1.0, u < 0.1, new, area), None

    (pos, _), _ = jax.lax.scan(body, (pos, heading), jax.random.split(key, 300))
    counts, _, _ = np.histogram2d(pos[:, 0], pos[:, 1], bins=4, range=[[0, area], [0, area]])
    expected = n / 16
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 37.7, counts  # chi^2_15 at p = 0.001


def test_reset_draws_follow_the_preset():
    env = jaxedge.make("v2x", n_vehicles=10, n_servers=3)
    params = env.default_params.replace(task_probs=jnp.array([0.0, 0.0, 1.0, 0.0, 0.0]),
                                        speed_probs=jnp.array([0.0, 0.0, 0.0, 0.0, 1.0]),
                                        es_cpu_low=15e9, es_cpu_high=15e9)
    _, state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(jax.random.split(jax.random.PRNGKey(0), 64), params)
    np.testing.assert_array_equal(state.bits, 100e3)
    np.testing.assert_array_equal(state.speed, 30.0)
    np.testing.assert_allclose(state.cpu, 15e9)
    np.testing.assert_allclose(state.bw, 20e6)
    assert 0.8 < float(state.gain.mean()) < 1.2  # Exp(1)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("radius", -1.0), ("phi_es", 0.0), ("w", 1.5), ("p_turn", -0.1), ("noise", float("nan")),
    ("task_probs", np.array([0.5, 0.5, 0.5, 0.0, 0.0], np.float32)), ("es_cpu_low", 30e9),
    ("es_pos", np.zeros((2, 2), np.float32)), ("task_sizes", np.zeros(5, np.float32)),
])
def test_bad_params_raise_naming_the_field(field, value):
    env = jaxedge.make("v2x", n_vehicles=3, n_servers=3)
    with pytest.raises(ValueError, match=field):
        env.reset(jax.random.PRNGKey(0), env.default_params.replace(**{field: value}))


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="n_servers"):
        jaxedge.make("v2x", n_vehicles=3, n_servers=0)
    env = jaxedge.make("v2x", n_vehicles=3, n_servers=2)
    assert env.default_params.es_pos.shape == (2, 2)
    with pytest.raises(ValueError, match="es_pos"):
        env.reset(jax.random.PRNGKey(0), Params.literal())  # 3-server layout on a 2-server env


def test_non_finite_and_out_of_range_actions_follow_the_rule():
    env = jaxedge.make("v2x", n_vehicles=4, n_servers=3)
    params = env.default_params
    _, state = env.reset(jax.random.PRNGKey(1), params)
    draws = env.sample_step(jax.random.PRNGKey(2), params)
    bad = spaces.HybridAction(jnp.array([7.0, -3.0, jnp.nan, 2.0]),
                              jnp.array([[jnp.nan, 2.0, -1.0], [0.5, 0.5, 0.5], [1, 1, 1], [jnp.inf, 0.3, -jnp.inf]]))
    clean = action([3, 0, 0, 2], [[0.0, 1.0, 0.0], [0.5, 0.5, 0.5], [1, 1, 1], [1.0, 0.3, 0.0]])
    transition = jax.jit(env.transition)
    out_bad = transition(state, bad, draws, params)
    out_clean = transition(state, clean, draws, params)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), out_bad, out_clean)
    # vehicle 0 sends at zero power and vehicle 3 gets no bandwidth: starved, cost capped, finite
    _, _, reward, _, _, info = out_bad
    assert np.all(np.isfinite(reward)) and float(info["metrics"]["clip_ratio"]) == 0.5
    assert float(info["metrics"]["delay"]) <= params.cost_cap
    # A15 caps the per-vehicle cost, not T and E apart: a starved vehicle costs exactly cost_cap
    # (capping T and E separately gave w cap + (1 - w) E, about 5 for w = 0.5)
    own = transition(state, bad, draws, params.replace(reward_global=False))[2]
    np.testing.assert_allclose(np.asarray(own)[[0, 3]], -params.cost_cap, rtol=1e-6)
    assert np.all(-np.asarray(own)[[1, 2]] < params.cost_cap)


